package io.livemig.multifd;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The per-channel compression streams of multifd: many packets through one sender stream and one
 * receiver stream (later packets refer back to earlier ones), and packets that are cut, padded or
 * foreign are refused rather than inflated into guest pages.
 */
class PacketCodecTest {

    private static final int PAGE = 4096;

    /** {@code pages} pages, text-like or random by a seeded coin per page. */
    private static ByteBuffer packet(SplittableRandom r, int pages) {
        ByteBuffer b = ByteBuffer.allocateDirect(pages * PAGE);
        String[] words = {"dirty ", "page ", "channel ", "sync ", "flush "};
        for (int p = 0; p < pages; p++) {
            boolean text = r.nextBoolean();
            for (int i = 0; i < PAGE; ) {
                if (text) {
                    byte[] w = words[r.nextInt(words.length)].getBytes(StandardCharsets.US_ASCII);
                    for (int k = 0; k < w.length && i < PAGE; k++, i++) {
                        b.put(p * PAGE + i, w[k]);
                    }
                } else {
                    b.put(p * PAGE + i++, (byte) r.nextInt());
                }
            }
        }
        return b;
    }

    private static ByteBuffer compressedOf(PacketCodec c, ByteBuffer pages) {
        ByteBuffer out = ByteBuffer.allocateDirect(MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH);
        int len = c.compress(pages.duplicate().clear(), out);
        assertThat(len).as("compressed length").isPositive();
        return out.flip();
    }

    @ParameterizedTest(name = "{0}, seed {1}")
    @CsvSource({"ZLIB, 1", "ZLIB, 2", "ZLIB, 3", "ZSTD, 1", "ZSTD, 2", "ZSTD, 3"})
    void manyPacketsThroughOneStreamComeOutEqual(MultifdCompression method, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        try (PacketCodec tx = PacketCodec.forSending(method, 1); PacketCodec rx = PacketCodec.forReceiving(method)) {
            long in = 0;
            long out = 0;
            for (int n = 0; n < 40; n++) {
                int pages = 1 + r.nextInt(MultifdPacketDescriptor.PAGES_PER_PACKET);
                ByteBuffer src = packet(r, pages);
                ByteBuffer wire = compressedOf(tx, src);
                in += pages * (long) PAGE;
                out += wire.remaining();
                ByteBuffer dst = ByteBuffer.allocateDirect(pages * PAGE);
                assertThat(rx.decompress(wire, dst)).as("packet %d of %d pages", n, pages).isEqualTo(pages * PAGE);
                assertThat(dst.flip()).as("packet %d", n).isEqualTo(src.duplicate().clear());
            }
            assertThat(out).as("half the pages are text: the stream must shrink").isLessThan(in * 3 / 4);
        }
    }

    @ParameterizedTest
    @EnumSource(value = MultifdCompression.class, names = {"ZLIB", "ZSTD"})
    void aCutPacketIsRefused(MultifdCompression method) {
        SplittableRandom r = new SplittableRandom(7);
        try (PacketCodec tx = PacketCodec.forSending(method, 1); PacketCodec rx = PacketCodec.forReceiving(method)) {
            ByteBuffer wire = compressedOf(tx, packet(r, 16));
            wire.limit(wire.limit() / 2);
            int got = rx.decompress(wire, ByteBuffer.allocateDirect(16 * PAGE));
            assertThat(got).as("bytes from half a packet").isNotEqualTo(16 * PAGE);
        }
    }

    @ParameterizedTest
    @EnumSource(value = MultifdCompression.class, names = {"ZLIB", "ZSTD"})
    void aPacketHoldingMoreThanItsPagesIsRefused(MultifdCompression method) {
        SplittableRandom r = new SplittableRandom(8);
        try (PacketCodec tx = PacketCodec.forSending(method, 1); PacketCodec rx = PacketCodec.forReceiving(method)) {
            ByteBuffer wire = compressedOf(tx, packet(r, 16));
            // the header claims 8 pages; the payload holds 16
            assertThat(rx.decompress(wire, ByteBuffer.allocateDirect(8 * PAGE))).isEqualTo(PacketCodec.BAD_DATA);
        }
    }

    @ParameterizedTest(name = "{0}, seed {1}")
    @CsvSource({"ZLIB, 1", "ZLIB, 2", "ZLIB, 3", "ZSTD, 1", "ZSTD, 2", "ZSTD, 3"})
    void randomBytesAreNotAStream(MultifdCompression method, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        ByteBuffer junk = ByteBuffer.allocateDirect(4096);
        for (int i = 0; i < junk.capacity(); i++) {
            junk.put(i, (byte) r.nextInt());
        }
        try (PacketCodec rx = PacketCodec.forReceiving(method)) {
            int got = rx.decompress(junk, ByteBuffer.allocateDirect(4 * PAGE));
            assertThat(got).as("4 pages out of 4 KiB of random bytes").isNotEqualTo(4 * PAGE);
        }
    }
}
