package io.livemig.stream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link MigrationOutput#putSegmentAsync}: pages go to a gathering channel as I/O vector entries
 * pointing at guest memory; the bytes on the wire must be exactly those of the copying path,
 * whatever the mix of records, the vector's and the buffer's limits and short writes.
 */
class MigrationOutputAsyncTest {

    private static final int PAGE = 4096;

    /** A gathering channel that takes at most {@code maxPerWrite} bytes per call (a full socket). */
    static class ShortWriteChannel implements GatheringByteChannel {
        final ByteArrayOutputStream wire = new ByteArrayOutputStream();
        final int maxPerWrite;
        int gatheringWrites;
        int maxEntries;

        ShortWriteChannel(int maxPerWrite) {
            this.maxPerWrite = maxPerWrite;
        }

        @Override
        public int write(ByteBuffer src) {
            return (int) write(new ByteBuffer[] {src}, 0, 1);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            gatheringWrites++;
            maxEntries = Math.max(maxEntries, length);
            long left = maxPerWrite;
            long n = 0;
            for (int i = offset; i < offset + length && left > 0; i++) {
                int take = (int) Math.min(left, srcs[i].remaining());
                byte[] b = new byte[take];
                srcs[i].get(b);
                wire.write(b, 0, take);
                left -= take;
                n += take;
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** The same channel without gathering writes: every page is copied. */
    static final class PlainChannel implements WritableByteChannel {
        final ByteArrayOutputStream wire = new ByteArrayOutputStream();

        @Override
        public int write(ByteBuffer src) {
            byte[] b = new byte[src.remaining()];
            src.get(b);
            wire.write(b, 0, b.length);
            return b.length;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    static LongStream seeds() {
        return new SplittableRandom(20261202).longs(24);
    }

    /** Writes a seeded mix of records to {@code out}: words, byte runs, pages (async or copied), flushes. */
    private static void records(MigrationOutput out, MemorySegment guest, long seed, boolean async) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 500 + r.nextInt(2500); // past MAX_IOV entries and past the buffer, so both force flushes
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(10)) {
                case 0 -> out.putU8(r.nextInt(256));
                case 1 -> out.putBe32(r.nextInt());
                case 2 -> {
                    byte[] b = new byte[r.nextInt(300)];
                    r.nextBytes(b);
                    out.putBytes(b);
                }
                case 3 -> {
                    if (r.nextInt(20) == 0) {
                        out.flush();
                    }
                }
                default -> {
                    out.putBe64(r.nextLong());
                    long page = r.nextLong(guest.byteSize() / PAGE) * PAGE;
                    if (async) {
                        out.putSegmentAsync(guest, page, PAGE);
                    } else {
                        out.putSegment(guest, page, PAGE);
                    }
                }
            }
        }
        out.flush();
    }

    private static MemorySegment randomGuest(Arena arena, long seed) {
        MemorySegment guest = arena.allocate(256L * PAGE, PAGE);
        byte[] b = new byte[(int) guest.byteSize()];
        new SplittableRandom(seed).nextBytes(b);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, guest, 0, b.length);
        return guest;
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void theVectorPutsTheSameBytesOnTheWireAsTheCopy(long seed) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment guest = randomGuest(arena, seed);
            int maxPerWrite = new SplittableRandom(seed ^ 1).nextInt(1, 64 << 10);
            ShortWriteChannel vectored = new ShortWriteChannel(maxPerWrite);
            MigrationOutput a = new MigrationOutput(vectored, 8192 + new SplittableRandom(seed ^ 2).nextInt(64 << 10));
            records(a, guest, seed, true);
            PlainChannel copied = new PlainChannel();
            MigrationOutput b = new MigrationOutput(copied);
            records(b, guest, seed, false);

            assertThat(a.hasError()).as("seed %d: %s", seed, a.error()).isFalse();
            assertThat(a.transferred()).as("seed %d: bytes counted", seed).isEqualTo(b.transferred())
                    .isEqualTo(copied.wire.size());
            assertThat(vectored.wire.toByteArray()).as("seed %d, %d bytes per write", seed, maxPerWrite)
                    .isEqualTo(copied.wire.toByteArray());
            assertThat(vectored.maxEntries).as("seed %d: entries per gathering write", seed)
                    .isLessThanOrEqualTo(MigrationOutput.MAX_IOV);
            a.release();
            b.release();
        }
    }

    @Test
    void anAsyncPageIsReadAtTheFlushAndACopiedPageAtThePut() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment guest = arena.allocate(2L * PAGE, PAGE);
            guest.fill((byte) 1);
            ShortWriteChannel vectored = new ShortWriteChannel(Integer.MAX_VALUE);
            MigrationOutput out = new MigrationOutput(vectored);
            out.putSegmentAsync(guest, 0, PAGE);
            out.putSegment(guest, PAGE, PAGE);
            assertThat(out.transferred()).isEqualTo(2L * PAGE);
            assertThat(vectored.wire.size()).as("nothing written before the flush").isZero();
            guest.fill((byte) 2); // the guest writes both pages before the flush
            out.flush();
            byte[] wire = vectored.wire.toByteArray();
            assertThat(wire).hasSize(2 * PAGE);
            assertThat(wire[0]).as("async: the page as it is at the flush").isEqualTo((byte) 2);
            assertThat(wire[PAGE]).as("copied: the page as it was at the put").isEqualTo((byte) 1);
            assertThat(vectored.gatheringWrites).isEqualTo(1);
            out.release();
        }
    }

    @Test
    void heapMemoryAndPlainChannelsAreCopied() {
        byte[] heap = new byte[PAGE];
        heap[7] = 7;
        PlainChannel plain = new PlainChannel();
        MigrationOutput out = new MigrationOutput(plain);
        out.putSegmentAsync(MemorySegment.ofArray(heap), 0, PAGE);
        heap[7] = 8;
        out.flush();
        assertThat(plain.wire.toByteArray()[7]).isEqualTo((byte) 7);

        ShortWriteChannel vectored = new ShortWriteChannel(Integer.MAX_VALUE);
        MigrationOutput v = new MigrationOutput(vectored);
        v.putSegmentAsync(MemorySegment.ofArray(heap), 0, PAGE); // not native: copied
        heap[7] = 9;
        v.flush();
        assertThat(vectored.wire.toByteArray()[7]).isEqualTo((byte) 8);
        out.release();
        v.release();
    }

    @Test
    void aFailedVectorWriteLatchesTheErrorAndDropsThePendingPages() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment guest = arena.allocate(PAGE, PAGE);
            GatheringByteChannel broken = new ShortWriteChannel(1) {
                @Override
                public long write(ByteBuffer[] srcs, int offset, int length) {
                    throw new java.io.UncheckedIOException(new IOException("Broken pipe"));
                }
            };
            MigrationOutput out = new MigrationOutput(broken);
            out.putBe64(1);
            out.putSegmentAsync(guest, 0, PAGE);
            out.flush();
            assertThat(out.hasError()).isTrue();
            assertThat(out.error()).hasMessageContaining("Broken pipe");
            long before = out.transferred();
            out.putSegmentAsync(guest, 0, PAGE);
            out.flush();
            assertThat(out.transferred()).as("puts after the error do nothing").isEqualTo(before);
            out.release();
        }
    }
}
