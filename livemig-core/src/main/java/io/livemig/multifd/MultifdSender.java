package io.livemig.multifd;

import io.livemig.channel.MigrationChannel;
import io.livemig.guest.PageSize;

import java.io.IOException;
import java.lang.foreign.Arena;
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
 * once) and its zstd stream. Its work per packet is a sum of named steps: {@link #detectZeroPages}
 * (QEMU's {@code zero-page-detection=multifd}), {@link #encode} (copy, or compress), {@link #write}.
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
    private final ZstdPacketCodec zstd;
    private final ByteBuffer header = ByteBuffer.allocateDirect(MultifdPacketDescriptor.HEADER_LENGTH).order(ByteOrder.BIG_ENDIAN);
    private final ByteBuffer pages = ByteBuffer.allocateDirect(MultifdPacketDescriptor.PACKET_SIZE);
    private final MemorySegment pagesSegment = MemorySegment.ofBuffer(pages);
    private final ByteBuffer compressed;
    private final ByteBuffer[] gather = new ByteBuffer[2];
    private final MemorySegment zeroPage = Arena.ofAuto().allocate(PAGE, PAGE);
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
                  MultifdCompression compression, int zstdLevel) {
        this.id = id;
        this.channel = channel;
        this.group = group;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.compression = compression;
        this.zstd = compression == MultifdCompression.ZSTD ? ZstdPacketCodec.forSending(zstdLevel) : null;
        this.compressed = zstd == null ? null : ByteBuffer.allocateDirect(MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH);
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
                    group.recycle(p); // the pages are copied out: the packet may be refilled
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
            if (zstd != null) {
                zstd.close();
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

    /** Splits the packet's pages into normal (copied into {@link #pages}) and zero pages. */
    private void detectZeroPages(MultifdSendPacket p) {
        MemorySegment seg = p.block.segment();
        normal = 0;
        zero = 0;
        for (int i = 0; i < p.count; i++) {
            long off = p.offsets[i];
            if (MemorySegment.mismatch(seg, off, off + PAGE, zeroPage, 0, PAGE) == -1) {
                zeros[zero++] = off;
            } else {
                MemorySegment.copy(seg, off, pagesSegment, (long) normal * PAGE, PAGE);
                ordered[normal++] = off;
            }
        }
        System.arraycopy(zeros, 0, ordered, normal, zero);
    }

    /** Prepares the payload; returns its length. */
    private int encode(MultifdSendPacket p) throws IOException {
        pages.clear().limit(normal * PAGE);
        if (zstd == null || normal == 0) {
            gather[1] = pages;
            return zstd == null ? normal * PAGE : 0;
        }
        int len = zstd.compress(pages, compressed);
        if (len < 0) {
            throw new IOException("multifd " + id + ": compressStream buffer too small");
        }
        compressed.flip();
        gather[1] = compressed;
        return len;
    }

    private void writeSync(long packetNum) throws IOException {
        MultifdPacketDescriptor.writeHeader(header, MultifdPacketDescriptor.FLAG_SYNC, 0, 0, 0, packetNum, null, ordered);
        pages.clear().limit(0);
        gather[1] = pages;
        write(0);
    }

    private void write(int payload) throws IOException {
        header.clear();
        gather[0] = header;
        WritableByteChannel out = channel.out();
        if (out instanceof GatheringByteChannel g) {
            while (header.hasRemaining() || gather[1].hasRemaining()) {
                g.write(gather);
            }
        } else {
            while (header.hasRemaining()) {
                out.write(header);
            }
            while (gather[1].hasRemaining()) {
                out.write(gather[1]);
            }
        }
        bytes += MultifdPacketDescriptor.HEADER_LENGTH + payload;
    }
}
