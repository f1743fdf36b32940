package io.livemig.bench.jmh;

import io.livemig.stream.MigrationOutput;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The stream buffer alone: one PAGE record (header word + 4096 bytes) per operation into a
 * {@link MigrationOutput} whose channel discards the bytes, pages taken in order from a 64 MiB
 * region of random bytes. The floor under the RAM saver's cost for a non-zero page.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class StreamWriteBenchmark {

    static final long GUEST = 64L << 20;

    private Arena arena;
    private MemorySegment guest;
    private MigrationOutput out;
    private long cursor;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        guest = arena.allocate(GUEST, 4096);
        byte[] chunk = new byte[1 << 20];
        SplittableRandom rnd = new SplittableRandom(1);
        for (long off = 0; off < GUEST; off += chunk.length) {
            rnd.nextBytes(chunk);
            MemorySegment.copy(MemorySegment.ofArray(chunk), 0, guest, off, chunk.length);
        }
        out = new MigrationOutput(new NullChannel());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public long outputPutPage() {
        long off = cursor;
        cursor = off + 4096 == GUEST ? 0 : off + 4096;
        out.putBe64AndSegment(off | 0x28, guest, off, 4096);
        return out.buffered();
    }
}
