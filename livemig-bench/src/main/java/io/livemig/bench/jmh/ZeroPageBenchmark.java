package io.livemig.bench.jmh;

import io.livemig.devices.ram.ZeroPage;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * Zero-page detection over 16 MiB of pages (beyond L2; guest RAM is beyond every cache):
 * {@code MemorySegment.mismatch} against a zero page, as the RAM saver does it, versus a plain
 * loop over longs that stops at the first non-zero one. One operation is one page.
 *
 * <p>{@code zero}: every page zero, the whole page is read (the expensive case, the zero-RAM
 * scenario). {@code lastLong}: only each page's last long is non-zero (the worst non-zero
 * case). {@code firstLong}: the first long is non-zero (random RAM: the check ends at once).
 * {@code zeroPageIsZero} is the check the RAM saver and loader use ({@code ZeroPage}): since
 * it replaced {@code mismatch} there, {@code mismatch} stays here as the reference.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ZeroPageBenchmark {

    static final int PAGE = 4096;
    static final int PAGES = 4096;

    @Param({"zero", "lastLong", "firstLong"})
    public String content;

    private Arena arena;
    private MemorySegment pages;
    private MemorySegment zeroPage;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        pages = arena.allocate((long) PAGES * PAGE, PAGE);
        zeroPage = arena.allocate(PAGE, PAGE);
        for (long p = 0; p < PAGES; p++) {
            switch (content) {
                case "lastLong" -> pages.set(ValueLayout.JAVA_LONG, p * PAGE + PAGE - 8, 1L);
                case "firstLong" -> pages.set(ValueLayout.JAVA_LONG, p * PAGE, 1L);
                default -> { }
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    @OperationsPerInvocation(PAGES)
    public int mismatch() {
        int zero = 0;
        for (long off = 0; off < (long) PAGES * PAGE; off += PAGE) {
            if (MemorySegment.mismatch(pages, off, off + PAGE, zeroPage, 0, PAGE) == -1) {
                zero++;
            }
        }
        return zero;
    }

    @Benchmark
    @OperationsPerInvocation(PAGES)
    public int longLoop() {
        int zero = 0;
        for (long off = 0; off < (long) PAGES * PAGE; off += PAGE) {
            if (isZero(pages, off)) {
                zero++;
            }
        }
        return zero;
    }

    /** The RAM page path's check ({@code ZeroPage.isZero}). */
    @Benchmark
    @OperationsPerInvocation(PAGES)
    public int zeroPageIsZero() {
        int zero = 0;
        for (long off = 0; off < (long) PAGES * PAGE; off += PAGE) {
            if (ZeroPage.isZero(pages, off)) {
                zero++;
            }
        }
        return zero;
    }

    private static boolean isZero(MemorySegment seg, long off) {
        for (long i = 0; i < PAGE; i += 8) {
            if (seg.get(ValueLayout.JAVA_LONG_UNALIGNED, off + i) != 0) {
                return false;
            }
        }
        return true;
    }
}
