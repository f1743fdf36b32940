package io.livemig.multifd;

import io.livemig.channel.MigrationChannel;
import io.livemig.devices.ram.ZeroPage;
import io.livemig.guest.PageSize;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * One multifd channel's sender thread, QEMU's {@code multifd_send_thread}.
 *
 * <p>Single owner: the thread owns its connection, its header/page/compression buffers (allocated
 * once) and its compression stream. Its work per packet is a sum of named steps: {@link #detectZeroPages}
 * (QEMU's {@code zero-page-detection=multifd}), {@link #encode} (point at the pages, or compress),
 * {@link #write}.
 *
 * <p>Zero copy without compression, as QEMU's nocomp sender (an iovec per page of guest RAM): the
 * payload is written from guest memory by one gathering write ({@link PageRuns}). A page the guest writes between the zero check and the write may go out
 * torn or newer, which is harmless for the same reason it is in QEMU: the write is in the dirty
 * log, so the page is sent again in a later round, and the flush barrier orders the rounds.
 * The migration thread talks to it only through {@link #queue} (packets in) and the group's free
 * pool and sync semaphore (packets and SYNC completions out). Counters have this thread as their
 * only writer; they are volatile so the migration thread's sums see recent values (a sum may lag
 * by one packet, which the rate limiter tolerates).
 */
final class MultifdSender implements Runnable {

    private static final int PAGE = PageSize.TARGET_PAGE_SIZE;
    /** Handed to {@link #queue} to end the thread after the packets before it. */
    static final MultifdSendPacket POISON = new MultifdSendPacket();

    final int id;
    final BlockingQueue<MultifdSendPacket> queue;
    private final MigrationChannel channel;
    private final MultifdSendGroup group;
    private final MultifdCompression compression;
    /** zlib or zstd; null without compression */
    private final PacketCodec codec;
    private final ByteBuffer header = ByteBuffer.allocateDirect(MultifdPacketDescriptor.HEADER_LENGTH).order(ByteOrder.BIG_ENDIAN);
    /** the codec's input, the packet's pages copied together; null without compression */
    private final ByteBuffer pages;
    private final MemorySegment pagesSegment;
    private final ByteBuffer compressed;
    /** the header, then the payload: the compressed buffer, or one view of guest RAM per run of pages */
    private final ByteBuffer[] gather = new ByteBuffer[1 + MultifdPacketDescriptor.PAGES_PER_PACKET];
    private int gathered;
    /** the packet's offsets in wire order: normal pages, then zero pages */
    private final long[] ordered = new long[MultifdPacketDescriptor.PAGES_PER_PACKET];
    private final long[] zeros = new long[MultifdPacketDescriptor.PAGES_PER_PACKET];
    private int normal;
    private int zero;

    volatile long bytes;
    volatile long normalPages;
    volatile long zeroPages;
    private Thread thread;

    MultifdSender(int id, MigrationChannel channel, MultifdSendGroup group, int queueCapacity,
                  MultifdCompression compression, int level) {
        this.id = id;
        this.channel = channel;
        this.group = group;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.compression = compression;
        this.codec = PacketCodec.forSending(compression, level);
        this.compressed = codec == null ? null : ByteBuffer.allocateDirect(MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH);
        this.pages = codec == null ? null : ByteBuffer.allocateDirect(MultifdPacketDescriptor.PACKET_SIZE);
        this.pagesSegment = pages == null ? null : MemorySegment.ofBuffer(pages);
    }

    void start() {
        thread = Thread.ofPlatform().name("multifdsend_" + id).daemon().start(this);
    }

    Thread thread() {
        return thread;
    }

    void closeChannel() {
        try {
            channel.close();
        } catch (IOException e) {
            // closing to unblock; nothing left to report
        }
    }

    @Override
    public void run() {
        try {
            while (true) {
                MultifdSendPacket p = queue.take();
                if (p == POISON) {
                    endOutput();
                    return;
                }
                if (p.sync) {
                    writeSync(p.packetNum);
                    group.recycle(p);
                    group.syncSent();
                } else {
                    detectZeroPages(p);
                    int payload = encode(p);
                    long num = p.packetNum;
                    int flags = compression.flag();
                    MultifdPacketDescriptor.writeHeader(header, flags, normal, zero, payload, num, p.name, ordered);
                    // the packet holds only offsets, copied to ordered[]: it may be refilled now
                    group.recycle(p);
                    write(payload);
                    normalPages += normal;
                    zeroPages += zero;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            group.fail(id, t);
        } finally {
            if (codec != null) {
                codec.close();
            }
        }
    }

    /**
     * The normal end, after the last packet: TLS close_notify (QEMU 9.2's clean multifd TLS
     * termination, {@code qio_channel_tls_bye}), a FIN on a plain socket, so the receiver reads a
     * clean end of stream at a packet boundary. Best effort: everything was written already.
     */
    private void endOutput() {
        try {
            channel.shutdownOutput();
        } catch (IOException e) {
            // the receiver sees the close instead
        }
    }

    /** Splits the packet's pages into normal and zero pages, in wire order in {@link #ordered}. */
    private void detectZeroPages(MultifdSendPacket p) {
        MemorySegment seg = p.block.segment();
        normal = 0;
        zero = 0;
        for (int i = 0; i < p.count; i++) {
            long off = p.offsets[i];
            if (ZeroPage.isZero(seg, off)) {
                zeros[zero++] = off;
            } else {
                ordered[normal++] = off;
            }
        }
        System.arraycopy(zeros, 0, ordered, normal, zero);
    }

    /** Prepares the payload in {@link #gather} after the header; returns its length. */
    private int encode(MultifdSendPacket p) throws IOException {
        MemorySegment seg = p.block.segment();
        gathered = 1;
        if (codec == null) {
            gathered = PageRuns.views(seg, ordered, normal, gather, 1); // no copy
            return normal * PAGE;
        }
        if (normal == 0) {
            return 0;
        }
        for (int i = 0; i < normal; i++) {
            MemorySegment.copy(seg, ordered[i], pagesSegment, (long) i * PAGE, PAGE);
        }
        pages.clear().limit(normal * PAGE);
        int len = codec.compress(pages, compressed);
        if (len < 0) {
            throw new IOException("multifd " + id + ": compressStream buffer too small");
        }
        compressed.flip();
        gather[gathered++] = compressed;
        return len;
    }

    private void writeSync(long packetNum) throws IOException {
        MultifdPacketDescriptor.writeHeader(header, MultifdPacketDescriptor.FLAG_SYNC, 0, 0, 0, packetNum, null, ordered);
        gathered = 1;
        write(0);
    }

    /** Writes the header and {@code gather[1..gathered)}, then drops the views of guest RAM. */
    private void write(int payload) throws IOException {
        header.clear();
        gather[0] = header;
        WritableByteChannel out = channel.out();
        try {
            if (out instanceof GatheringByteChannel g) {
                ByteBuffer last = gather[gathered - 1];
                while (last.hasRemaining()) {
                    if (g.write(gather, 0, gathered) > 0) {
                        group.progress.moved(); // a slow link moves a packet in many writes
                    }
                }
            } else {
                for (int i = 0; i < gathered; i++) {
                    while (gather[i].hasRemaining()) {
                        if (out.write(gather[i]) > 0) {
                            group.progress.moved();
                        }
                    }
                }
            }
        } finally {
            java.util.Arrays.fill(gather, 1, gathered, null);
        }
        bytes += MultifdPacketDescriptor.HEADER_LENGTH + payload;
    }
}
