package io.livemig.multifd;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Golden bytes of the init packet and a packet header, and zstd packets through one stream. */
class MultifdPacketDescriptorTest {

    @Test
    void initPacketGoldenBytes() {
        ByteBuffer b = ByteBuffer.allocate(MultifdPacketDescriptor.INIT_LENGTH);
        MultifdPacketDescriptor.writeInit(b, new UUID(0x0011223344556677L, 0x8899aabbccddeeffL), 3);
        assertThat(HexFormat.of().formatHex(b.array())).isEqualTo(
                "11223344" + "00000001" + "00112233445566778899aabbccddeeff" + "03" + "00".repeat(7) + "00".repeat(32));
    }

    @Test
    void headerOverwritesEveryByteOfAReusedBuffer() {
        long[] offsets = new long[128];
        for (int i = 0; i < 5; i++) {
            offsets[i] = 0x1000L * (i + 1);
        }
        byte[] name = "pc.ram".getBytes(StandardCharsets.UTF_8);
        ByteBuffer fresh = ByteBuffer.allocate(MultifdPacketDescriptor.HEADER_LENGTH);
        MultifdPacketDescriptor.writeHeader(fresh, 0, 3, 2, 3 * 4096, 9, name, offsets);
        ByteBuffer reused = ByteBuffer.allocateDirect(MultifdPacketDescriptor.HEADER_LENGTH);
        while (reused.hasRemaining()) {
            reused.put((byte) 0xa5); // the previous packet's bytes: a longer name, more slots
        }
        reused.position(17); // writeHeader writes from index 0 whatever the position
        MultifdPacketDescriptor.writeHeader(reused, 0, 3, 2, 3 * 4096, 9, name, offsets);
        assertThat(reused.position()).isEqualTo(17);
        assertThat(reused.clear()).isEqualTo(fresh.clear());
        long[] back = new long[5];
        MultifdPacketDescriptor.readOffsets(reused, back, 5);
        assertThat(back).containsExactly(0x1000, 0x2000, 0x3000, 0x4000, 0x5000);
    }

    @Test
    void headerGoldenBytesAndLayout() {
        assertThat(MultifdPacketDescriptor.HEADER_LENGTH).isEqualTo(1344);
        assertThat(MultifdPacketDescriptor.PAGES_PER_PACKET).isEqualTo(128);
        ByteBuffer h = ByteBuffer.allocate(MultifdPacketDescriptor.HEADER_LENGTH);
        long[] offsets = new long[128];
        offsets[0] = 0x1000;
        offsets[1] = 0x3000;
        offsets[2] = 0x2000;
        MultifdPacketDescriptor.writeHeader(h, MultifdPacketDescriptor.FLAG_ZSTD | MultifdPacketDescriptor.FLAG_SYNC,
                2, 1, 0x1234, 7, "mem0".getBytes(StandardCharsets.UTF_8), offsets);
        String hex = HexFormat.of().formatHex(h.array());
        assertThat(hex.substring(0, 128)).isEqualTo("11223344" + "00000001" + "00000005" + "00000080" + "00000002"
                + "00001234" + "0000000000000007" + "00000001" + "00000000" + "00".repeat(24));
        assertThat(hex.substring(128, 128 + 10)).isEqualTo("6d656d3000");
        assertThat(hex.substring(640, 640 + 48)).isEqualTo("0000000000001000" + "0000000000003000" + "0000000000002000");
        assertThat(hex.substring(640 + 48)).matches("0+");
        assertThat(MultifdPacketDescriptor.blockName(h)).isEqualTo("mem0");
        assertThat(MultifdPacketDescriptor.blockNameEquals(h, "mem0".getBytes(StandardCharsets.UTF_8))).isTrue();
        assertThat(MultifdPacketDescriptor.blockNameEquals(h, "mem".getBytes(StandardCharsets.UTF_8))).isFalse();
    }

    @Test
    void zstdPacketsRoundTripThroughOneStreamPerChannel() {
        long seed = new SplittableRandom().nextLong();
        SplittableRandom r = new SplittableRandom(seed);
        try (ZstdPacketCodec tx = ZstdPacketCodec.forSending(1); ZstdPacketCodec rx = ZstdPacketCodec.forReceiving()) {
            ByteBuffer pages = ByteBuffer.allocateDirect(MultifdPacketDescriptor.PACKET_SIZE);
            ByteBuffer wire = ByteBuffer.allocateDirect(MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH);
            ByteBuffer out = ByteBuffer.allocateDirect(MultifdPacketDescriptor.PACKET_SIZE);
            for (int packet = 0; packet < 20; packet++) {
                int n = 1 + r.nextInt(128);
                pages.clear().limit(n * 4096);
                boolean random = r.nextBoolean();
                for (int i = 0; i < n * 4096; i++) {
                    pages.put(i, (byte) (random ? r.nextInt() : "multifd ".charAt(i % 8)));
                }
                int len = tx.compress(pages, wire);
                assertThat(len).as("seed %d packet %d", seed, packet).isPositive()
                        .isLessThanOrEqualTo(MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH);
                wire.flip();
                out.clear().limit(n * 4096);
                assertThat(rx.decompress(wire, out)).as("seed %d packet %d", seed, packet).isEqualTo(n * 4096);
                pages.clear().limit(n * 4096);
                out.flip();
                assertThat(out.mismatch(pages)).as("seed %d packet %d", seed, packet).isEqualTo(-1);
            }
            ByteBuffer junk = ByteBuffer.allocateDirect(64);
            for (int i = 0; i < 64; i++) {
                junk.put(i, (byte) 0xa5);
            }
            out.clear().limit(4096);
            assertThat(rx.decompress(junk, out)).as("garbage is refused, seed %d", seed).isNotEqualTo(4096);
        }
    }
}
