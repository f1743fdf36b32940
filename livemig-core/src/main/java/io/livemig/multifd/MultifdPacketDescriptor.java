package io.livemig.multifd;

import io.livemig.guest.PageSize;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * The multifd wire records, QEMU 9.x's layout ({@code migration/multifd.h}, {@code MultiFDInit_t}
 * and {@code MultiFDPacket_t}). All integers are big-endian.
 *
 * <p>Init packet, the first 64 bytes of every multifd connection:
 * <pre>
 *   0                   4                   8                                  24   25          32
 *   +-------------------+-------------------+----------------------------------+----+-----------+
 *   | be32 magic        | be32 version (1)  | uuid[16] (the source VM's)       | id | pad[7]    |
 *   | 0x11223344        |                   |                                  | u8 |           |
 *   +-------------------+-------------------+----------------------------------+----+-----------+
 *   32: be64 unused[4]                                                                        64
 * </pre>
 *
 * <p>Data packet (a fixed {@value #HEADER_LENGTH}-byte header for 4 KiB pages and 128 page slots,
 * then {@code next_packet_size} payload bytes):
 * <pre>
 *    0  be32 magic 0x11223344
 *    4  be32 version 1
 *    8  be32 flags        bit 0 SYNC; bits 1-5 compression (0 none, 1&lt;&lt;1 zlib, 2&lt;&lt;1 zstd)
 *   12  be32 pages_alloc  128 (slots in the offset array)
 *   16  be32 normal_pages
 *   20  be32 next_packet_size   payload bytes after the header
 *   24  be64 packet_num   one sequence over all channels
 *   32  be32 zero_pages
 *   36  be32 unused32; 40 be64 unused64[3]
 *   64  char ramblock[256]      NUL-terminated idstr (empty in a packet without pages)
 *  320  be64 offset[pages_alloc] normal page offsets first, then zero page offsets, then zeros
 * 1344  payload: normal_pages × 4096 raw bytes, or (zstd) one block of a zstd stream that spans
 *       all packets of the channel, flushed at each packet's end, that inflates to those pages
 * </pre>
 * A SYNC packet carries no pages; the sync/flush protocol is in {@link MultifdSendGroup} and
 * {@link MultifdRecvGroup}. QEMU 7.2 (installed here) has the older layout (no zero_pages, a
 * pages_used field, sync per section): livemig does not interoperate with it.
 */
public final class MultifdPacketDescriptor {

    public static final int MAGIC = 0x11223344;
    public static final int VERSION = 1;
    public static final int PAGE = PageSize.TARGET_PAGE_SIZE;
    /** QEMU's {@code MULTIFD_PACKET_SIZE}: 512 KiB of pages per packet. */
    public static final int PACKET_SIZE = 512 * 1024;
    public static final int PAGES_PER_PACKET = PACKET_SIZE / PAGE;

    public static final int INIT_LENGTH = 64;
    public static final int INIT_UUID_OFFSET = 8;
    public static final int INIT_ID_OFFSET = 24;

    public static final int FLAG_SYNC = 1;
    public static final int FLAG_COMPRESSION_MASK = 0x1f << 1;
    public static final int FLAG_NOCOMP = 0;
    public static final int FLAG_ZLIB = 1 << 1;
    public static final int FLAG_ZSTD = 2 << 1;

    public static final int MAGIC_OFFSET = 0;
    public static final int VERSION_OFFSET = 4;
    public static final int FLAGS_OFFSET = 8;
    public static final int PAGES_ALLOC_OFFSET = 12;
    public static final int NORMAL_PAGES_OFFSET = 16;
    public static final int NEXT_PACKET_SIZE_OFFSET = 20;
    public static final int PACKET_NUM_OFFSET = 24;
    public static final int ZERO_PAGES_OFFSET = 32;
    public static final int RAMBLOCK_OFFSET = 64;
    public static final int RAMBLOCK_LENGTH = 256;
    public static final int OFFSETS_OFFSET = RAMBLOCK_OFFSET + RAMBLOCK_LENGTH;
    public static final int HEADER_LENGTH = OFFSETS_OFFSET + 8 * PAGES_PER_PACKET;

    /** A zstd payload may not exceed this (QEMU's receive buffer: twice the packet). */
    public static final int MAX_COMPRESSED_LENGTH = 2 * PACKET_SIZE;

    /** the zero bytes of a header's unused fields, name bytes and page slots */
    private static final byte[] ZEROS = new byte[8 * PAGES_PER_PACKET];

    private MultifdPacketDescriptor() {
    }

    /**
     * Returns {@code pages} if a sender may fill packets with that many pages (1..128; fewer than
     * 128 only in the warm-up, the wire stays the same).
     *
     * @throws IllegalArgumentException otherwise
     */
    public static int checkPacketPages(int pages) {
        if (pages < 1 || pages > PAGES_PER_PACKET) {
            throw new IllegalArgumentException("multifd packet pages must be 1.." + PAGES_PER_PACKET + ", got " + pages);
        }
        return pages;
    }

    public static int offsetOfPage(int slot) {
        return OFFSETS_OFFSET + 8 * slot;
    }

    /** Writes the 64-byte init packet at {@code buf}'s position..+64 (position unchanged). */
    public static void writeInit(ByteBuffer buf, UUID uuid, int channelId) {
        int p = buf.position();
        for (int i = 0; i < INIT_LENGTH; i++) {
            buf.put(p + i, (byte) 0);
        }
        buf.putInt(p + MAGIC_OFFSET, MAGIC);
        buf.putInt(p + VERSION_OFFSET, VERSION);
        buf.putLong(p + INIT_UUID_OFFSET, uuid.getMostSignificantBits());
        buf.putLong(p + INIT_UUID_OFFSET + 8, uuid.getLeastSignificantBits());
        buf.put(p + INIT_ID_OFFSET, (byte) channelId);
    }

    /**
     * Fills a data packet header in {@code buf} (absolute, from index 0, {@value #HEADER_LENGTH}
     * bytes). {@code offsets[0..normal)} are the normal pages, {@code [normal..normal+zero)} the zero
     * pages; the unused slots are zeroed.
     *
     * <p>Bulk copies only, no per-byte or per-slot loop, and plain buffer calls rather than
     * memory-segment ones: this runs once per 512 KiB packet, so the JIT compiles it during a
     * migration's first second, on the same two CPUs as the migration. A slot-by-slot version
     * took C2 0.1-0.2 s per compilation and a memory-segment version took C1 0.08-0.23 s (JFR,
     * docs/benchmarks.md); this one compiles in a few milliseconds.
     */
    public static void writeHeader(ByteBuffer buf, int flags, int normal, int zero, int nextPacketSize,
                                   long packetNum, byte[] blockName, long[] offsets) {
        ByteBuffer h = buf.duplicate().order(ByteOrder.BIG_ENDIAN);
        h.putInt(MAGIC_OFFSET, MAGIC);
        h.putInt(VERSION_OFFSET, VERSION);
        h.putInt(FLAGS_OFFSET, flags);
        h.putInt(PAGES_ALLOC_OFFSET, PAGES_PER_PACKET);
        h.putInt(NORMAL_PAGES_OFFSET, normal);
        h.putInt(NEXT_PACKET_SIZE_OFFSET, nextPacketSize);
        h.putLong(PACKET_NUM_OFFSET, packetNum);
        h.putInt(ZERO_PAGES_OFFSET, zero);
        h.put(ZERO_PAGES_OFFSET + 4, ZEROS, 0, RAMBLOCK_OFFSET - ZERO_PAGES_OFFSET - 4);
        int n = blockName == null ? 0 : Math.min(blockName.length, RAMBLOCK_LENGTH - 1);
        if (n > 0) {
            h.put(RAMBLOCK_OFFSET, blockName, 0, n);
        }
        h.put(RAMBLOCK_OFFSET + n, ZEROS, 0, RAMBLOCK_LENGTH - n);
        int used = normal + zero;
        h.slice(OFFSETS_OFFSET, 8 * PAGES_PER_PACKET).order(ByteOrder.BIG_ENDIAN).asLongBuffer().put(0, offsets, 0, used);
        h.put(offsetOfPage(used), ZEROS, 0, 8 * (PAGES_PER_PACKET - used));
    }

    /** Copies the first {@code count} page offsets of a data packet header into {@code into}. */
    public static void readOffsets(ByteBuffer header, long[] into, int count) {
        header.slice(OFFSETS_OFFSET, 8 * count).order(ByteOrder.BIG_ENDIAN).asLongBuffer().get(0, into, 0, count);
    }

    /** The NUL-terminated block name at {@link #RAMBLOCK_OFFSET}, or null if it has no NUL. */
    public static String blockName(ByteBuffer header) {
        for (int i = 0; i < RAMBLOCK_LENGTH; i++) {
            if (header.get(RAMBLOCK_OFFSET + i) == 0) {
                byte[] b = new byte[i];
                header.get(RAMBLOCK_OFFSET, b);
                return new String(b, StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    /** Whether the name at {@link #RAMBLOCK_OFFSET} equals {@code name} (NUL-terminated), without allocating. */
    public static boolean blockNameEquals(ByteBuffer header, byte[] name) {
        if (name.length >= RAMBLOCK_LENGTH) {
            return false;
        }
        for (int i = 0; i < name.length; i++) {
            if (header.get(RAMBLOCK_OFFSET + i) != name[i]) {
                return false;
            }
        }
        return header.get(RAMBLOCK_OFFSET + name.length) == 0;
    }
}
