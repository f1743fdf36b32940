package io.livemig.bench.jmh;

import io.livemig.devices.ram.RamDevice;
import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;
import io.livemig.savevm.MigrationStats;
import io.livemig.savevm.RateLimit;
import io.livemig.stream.MigrationOutput;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The source's page path without the wire: {@link RamDevice} (and so the package-private
 * {@code RamSaver}: bitmap scan, zero check, copy into the stream buffer) saving a 64 MiB
 * guest into a {@link MigrationOutput} whose channel discards the bytes. One operation is one
 * page; the score is ns per page (4096 / score = GB/s of guest RAM).

 * (StreamWriteBenchmark is the stream buffer alone, the floor under a non-zero page's cost.)
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class PageEncodeBenchmark {

    static final long GUEST = 64L << 20;
    static final int PAGES = (int) (GUEST / 4096);

    /** random: every page sent whole; zero: every page a ZERO record; mixed: a seeded coin per page. */
    @Param({"random", "zero", "mixed"})
    public String content;

    private GuestMemory memory;
    private RamDevice device;
    private MigrationOutput out;

    @Setup(Level.Trial)
    public void setUp() {
        memory = new GuestMemory();
        RamBlock block = RamBlock.anonymous("mem0", GUEST, true);
        memory.add(block);
        SplittableRandom rnd = new SplittableRandom(1);
        for (long off = 0; off < GUEST; off += 4096) {
            boolean random = switch (content) {
                case "random" -> true;
                case "zero" -> false;
                default -> rnd.nextBoolean();
            };
            for (long i = 0; random && i < 4096; i += 8) {
                block.writeLong(off + i, rnd.nextLong());
            }
        }
        device = new RamDevice(memory, new MigrationStats(), pass -> { }, () -> false,
                new io.livemig.savevm.MigrationCapabilities(), new io.livemig.savevm.MigrationParameters());
        out = new MigrationOutput(new NullChannel());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        memory.close();
    }

    /** Setup (bitmap all ones) and iterations until no page is dirty: the first pass of a migration. */
    @Benchmark
    @OperationsPerInvocation(PAGES)
    public long ramSaverWholeGuest() {
        device.saveSetup(out);
        while (device.saveIterate(out, RateLimit.UNLIMITED) == 0) {
            // each call stops after 50 ms; the next resumes at its cursor
        }
        device.saveCleanup();
        return out.transferred();
    }
}
