package io.livemig.bench.jmh;

import io.livemig.stream.MigrationInput;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The destination's parse path without the wire: {@link MigrationInput} reading PAGE records
 * (an 8-byte big-endian address word, then 4096 bytes) and copying each page into a 64 MiB guest
 * region with {@code getSegment}, as the RAM loader does. The channel replays a 16 MiB stream of
 * records endlessly, each read copying up to what the reader asks (as a socket read copies from
 * the kernel). One operation is one record; the score is ns per page.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class StreamReadBenchmark {

    static final int PAGE = 4096;
    static final int RECORD = 8 + PAGE;
    static final int STREAM_RECORDS = 4096;
    static final long GUEST = 64L << 20;
    static final int BATCH = 1024;

    private Arena arena;
    private MemorySegment guest;
    private MigrationInput in;
    private long guestOffset;

    /** Serves {@code stream} round and round. */
    static final class ReplayChannel implements ReadableByteChannel {
        private final ByteBuffer stream;

        ReplayChannel(ByteBuffer stream) {
            this.stream = stream;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!stream.hasRemaining()) {
                stream.clear();
            }
            int n = Math.min(dst.remaining(), stream.remaining());
            dst.put(dst.position(), stream, stream.position(), n);
            dst.position(dst.position() + n);
            stream.position(stream.position() + n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        guest = arena.allocate(GUEST, PAGE);
        guest.fill((byte) 0);
        ByteBuffer stream = ByteBuffer.allocateDirect(STREAM_RECORDS * RECORD);
        SplittableRandom rnd = new SplittableRandom(1);
        MemorySegment s = MemorySegment.ofBuffer(stream);
        for (int r = 0; r < STREAM_RECORDS; r++) {
            long base = (long) r * RECORD;
            s.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), base, ((long) r * PAGE) | 0x28);
            for (int i = 0; i < PAGE; i += 8) {
                s.set(ValueLayout.JAVA_LONG_UNALIGNED, base + 8 + i, rnd.nextLong());
            }
        }
        in = new MigrationInput(new ReplayChannel(stream));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long parsePages() throws IOException {
        long acc = 0;
        for (int i = 0; i < BATCH; i++) {
            long word = in.getBe64();
            acc += word;
            in.getSegment(guest, guestOffset, PAGE);
            guestOffset = guestOffset + PAGE == GUEST ? 0 : guestOffset + PAGE;
        }
        return acc;
    }
}
