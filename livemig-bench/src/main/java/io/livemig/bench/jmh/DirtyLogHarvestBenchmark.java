package io.livemig.bench.jmh;

import io.livemig.guest.DirtyLog;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The dirty-log sync of a 1 GiB guest (262,144 pages, 4,096 words): {@link DirtyLog#harvest}
 * taking every dirty bit into the migration bitmap. One operation is one harvest of the whole
 * log; the score is µs per sync.
 *
 * <p>The log is re-dirtied before each invocation ({@code Level.Invocation}: the operation
 * takes tens of µs, well above the per-invocation timing overhead, and re-marking must not be
 * measured). {@code clean}: no bit set (a paused guest, every sync after the first). {@code
 * sparse}: 1 % of the pages, chosen by {@code SplittableRandom(1)}. {@code dense}: every page.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DirtyLogHarvestBenchmark {

    static final long PAGES = (1L << 30) / 4096;

    @Param({"clean", "sparse", "dense"})
    public String density;

    private DirtyLog log;
    private long[] bitmap;
    private long[] dirtyPages;

    @Setup(Level.Trial)
    public void setUp() {
        log = new DirtyLog(PAGES);
        bitmap = new long[(int) DirtyLog.wordsFor(PAGES)];
        SplittableRandom rnd = new SplittableRandom(1);
        dirtyPages = switch (density) {
            case "clean" -> new long[0];
            case "sparse" -> rnd.longs(PAGES / 100, 0, PAGES).toArray();
            default -> new long[0];
        };
    }

    @Setup(Level.Invocation)
    public void dirty() {
        Arrays.fill(bitmap, 0L);
        if ("dense".equals(density)) {
            log.markRange(0, PAGES);
        } else {
            for (long p : dirtyPages) {
                log.markDirty(p);
            }
        }
    }

    @Benchmark
    public long harvest() {
        return log.harvest(bitmap);
    }
}
