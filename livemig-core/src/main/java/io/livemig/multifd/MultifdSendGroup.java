package io.livemig.multifd;

import io.livemig.channel.ChannelWrapper;
import io.livemig.channel.MigrationChannel;
import io.livemig.channel.MigrationUri;
import io.livemig.channel.Transports;
import io.livemig.guest.RamBlock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.LongSupplier;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The source's multifd channels, QEMU's {@code multifd_send_state} with {@code multifd_queue_page},
 * {@code multifd_send_pages} and {@code multifd_ram_flush_and_sync}.
 *
 * <p>Threads. The migration thread is the only caller of {@link #queuePage}, {@link #dispatch} and
 * {@link #flushAndSync}; it owns {@link #current} and the packet numbering. Each channel has one
 * {@link MultifdSender}. A fixed pool of {@code 2 × channels + 1} packets circulates: the migration
 * thread takes one from {@link #free}, fills it with page offsets of one block, and puts it on the
 * next channel's queue (round robin); the sender hands it back to {@link #free} once the pages are
 * copied out. A full pool is the back-pressure: the migration thread waits for a free packet, so at
 * most the pool's worth of pages is in flight (bounded queues, no allocation in steady state).
 *
 * <p>Sync (QEMU's {@code multifd_send_sync_main}): at each full wrap of RAM, the partial packet is
 * dispatched, each channel gets a SYNC packet after everything queued on it, and the migration
 * thread waits until every sender has written its SYNC (a semaphore the senders release); then the
 * caller writes {@code MULTIFD_FLUSH} on the main stream. The destination holds each channel at its
 * SYNC until the main stream reaches that flush, so no page of the next round is applied before
 * every page of this round: an old copy of a page can never overwrite a newer one.
 *
 * <p>Failure. A sender that fails records the first error and closes every channel; the migration
 * thread sees {@link #error()} at its next queue or sync and fails the migration. {@link #abort()}
 * (cancel, from any thread) does the same. Waits poll with a bound so an abort always ends them.
 */
public final class MultifdSendGroup implements AutoCloseable {

    private static final long POLL_MS = 20;

    private final MultifdSender[] senders;
    private final List<MigrationChannel> channels;
    private final ArrayBlockingQueue<MultifdSendPacket> free;
    private final Semaphore syncsSent = new Semaphore(0);
    /** a packet goes out when it holds this many pages (128, QEMU's; fewer only in the warm-up) */
    private final int packetPages;
    private volatile Throwable error;
    /** owned by the migration thread */
    private MultifdSendPacket current;
    private int next;
    private long packetNum;

    final MultifdProgress progress;

    private MultifdSendGroup(List<MigrationChannel> channels, MultifdCompression compression, int level,
                             LongSupplier stallTimeoutMs, int packetPages) {
        int n = channels.size();
        this.packetPages = packetPages;
        this.progress = new MultifdProgress(stallTimeoutMs);
        this.channels = channels;
        int pool = 2 * n + 1;
        this.free = new ArrayBlockingQueue<>(pool);
        for (int i = 0; i < pool; i++) {
            free.add(new MultifdSendPacket());
        }
        this.senders = new MultifdSender[n];
        for (int i = 0; i < n; i++) {
            senders[i] = new MultifdSender(i, channels.get(i), this, pool + 1, compression, level);
        }
    }

    /**
     * Opens {@code count} connections to {@code uri} (after the main one), layers {@code wrapper}
     * over each (TLS: a handshake per channel, as QEMU's {@code multifd_tls_channel_connect}),
     * writes each one's init packet (inside TLS, if any) and starts its sender. On failure closes
     * whatever it opened.
     */
    public static MultifdSendGroup open(MigrationUri uri, int count, MultifdCompression compression, int level,
                                        UUID uuid, Duration timeout, ChannelWrapper wrapper) throws IOException {
        return open(uri, count, compression, level, uuid, timeout, wrapper, () -> 0,
                MultifdPacketDescriptor.PAGES_PER_PACKET);
    }

    /**
     * As above, with {@code x-stall-timeout} ({@code stallTimeoutMs}, 0 = off) bounding how long
     * the migration thread waits for a sync or a free packet while no channel moves a byte, and
     * packets of at most {@code packetPages} pages (1..128).
     */
    public static MultifdSendGroup open(MigrationUri uri, int count, MultifdCompression compression, int level,
                                        UUID uuid, Duration timeout, ChannelWrapper wrapper,
                                        LongSupplier stallTimeoutMs, int packetPages) throws IOException {
        MultifdPacketDescriptor.checkPacketPages(packetPages);
        List<MigrationChannel> opened = new ArrayList<>();
        try {
            ByteBuffer init = ByteBuffer.allocate(MultifdPacketDescriptor.INIT_LENGTH);
            for (int id = 0; id < count; id++) {
                MigrationChannel ch = wrapper.wrap(Transports.connect(uri, timeout));
                opened.add(ch);
                init.clear();
                MultifdPacketDescriptor.writeInit(init, uuid, id);
                while (init.hasRemaining()) {
                    ch.out().write(init);
                }
            }
        } catch (IOException | RuntimeException e) {
            for (MigrationChannel ch : opened) {
                ch.close();
            }
            throw new IOException("multifd: cannot open channel " + opened.size() + " to " + uri + ": " + e.getMessage(), e);
        }
        MultifdSendGroup g = new MultifdSendGroup(List.copyOf(opened), compression, level, stallTimeoutMs, packetPages);
        for (MultifdSender s : g.senders) {
            s.start();
        }
        return g;
    }

    public int channelCount() {
        return senders.length;
    }

    /** The first error of any channel, or null. */
    public Throwable error() {
        return error;
    }

    /**
     * Adds one page (QEMU's {@code multifd_queue_page}); a packet goes out when it is full or the
     * block changes. Returns false once the group has failed.
     */
    public boolean queuePage(RamBlock block, byte[] name, long offset) {
        if (current != null && (current.block != block || current.count == packetPages)) {
            dispatch();
        }
        if (current == null) {
            current = takeFree();
            if (current == null) {
                return false;
            }
            current.block = block;
            current.name = name;
        }
        current.offsets[current.count++] = offset;
        return error == null;
    }

    /** Sends the partial packet, if any, on the next channel. */
    public void dispatch() {
        MultifdSendPacket p = current;
        if (p == null) {
            return;
        }
        current = null;
        if (p.count == 0) {
            free.offer(p);
            return;
        }
        p.packetNum = packetNum++;
        handTo(senders[next], p);
        next = (next + 1) % senders.length;
    }

    /**
     * QEMU's {@code multifd_ram_flush_and_sync}: dispatches the partial packet, queues a SYNC on
     * every channel and waits until all are written. Returns false if the group failed meanwhile.
     */
    public boolean flushAndSync() {
        dispatch();
        for (MultifdSender s : senders) {
            MultifdSendPacket p = takeFree();
            if (p == null) {
                return false;
            }
            p.sync = true;
            p.packetNum = packetNum++;
            handTo(s, p);
        }
        long waitStart = System.nanoTime();
        try {
            while (!syncsSent.tryAcquire(senders.length, POLL_MS, TimeUnit.MILLISECONDS)) {
                if (error != null || stalled(waitStart)) {
                    return false;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(-1, e);
            return false;
        }
        return error == null;
    }

    /** Bytes written on all channels so far (headers included), QEMU's {@code multifd_bytes}. */
    public long bytes() {
        long sum = 0;
        for (MultifdSender s : senders) {
            sum += s.bytes;
        }
        return sum;
    }

    public long normalPages() {
        long sum = 0;
        for (MultifdSender s : senders) {
            sum += s.normalPages;
        }
        return sum;
    }

    public long zeroPages() {
        long sum = 0;
        for (MultifdSender s : senders) {
            sum += s.zeroPages;
        }
        return sum;
    }

    /** Ends every channel now (cancel or failure); safe from any thread, more than once. */
    public void abort() {
        fail(-1, new IOException("multifd: migration cancelled"));
    }

    /**
     * Normal end: lets each sender finish what is queued, then closes the channels; after a
     * failure, closes at once. Waits for the senders (bounded).
     */
    @Override
    public void close() {
        if (error == null) {
            for (MultifdSender s : senders) {
                handTo(s, MultifdSender.POISON);
            }
        }
        for (MultifdSender s : senders) {
            join(s, 10_000);
        }
        closeChannels();
        for (MultifdSender s : senders) {
            join(s, 10_000);
        }
    }

    // ---- called by the senders ----

    void recycle(MultifdSendPacket p) {
        p.reset();
        free.offer(p);
    }

    void syncSent() {
        syncsSent.release();
    }

    /** Records the first error and closes all channels, which ends every sender. */
    void fail(int channel, Throwable t) {
        synchronized (this) {
            if (error != null) {
                return;
            }
            String desc = t.getMessage() != null ? t.getMessage() : t.toString();
            error = channel < 0 ? t : new IOException("multifd channel " + channel + ": " + desc, t);
        }
        closeChannels();
        for (MultifdSender s : senders) {
            Thread th = s.thread();
            if (th != null && th != Thread.currentThread()) {
                th.interrupt();
            }
        }
    }

    private void closeChannels() {
        for (MultifdSender s : senders) {
            s.closeChannel();
        }
    }

    /** Fails the group when no channel moved a packet for x-stall-timeout since {@code waitStart}. */
    private boolean stalled(long waitStart) {
        String msg = progress.stalledSince(waitStart);
        if (msg == null) {
            return false;
        }
        fail(-1, new IOException(msg));
        return true;
    }

    private MultifdSendPacket takeFree() {
        long waitStart = System.nanoTime();
        try {
            while (error == null) {
                MultifdSendPacket p = free.poll(POLL_MS, TimeUnit.MILLISECONDS);
                if (p != null) {
                    return p;
                }
                if (stalled(waitStart)) {
                    return null;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(-1, e);
        }
        return null;
    }

    private static void handTo(MultifdSender s, MultifdSendPacket p) {
        // the queue holds more than the pool: offer never fails
        if (!s.queue.offer(p)) {
            throw new IllegalStateException("multifd channel " + s.id + ": queue full");
        }
    }

    private static void join(MultifdSender s, long ms) {
        Thread th = s.thread();
        if (th == null) {
            return;
        }
        try {
            th.join(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    List<MigrationChannel> channels() {
        return channels;
    }
}
