package io.livemig.multifd;

import io.livemig.channel.MigrationChannel;
import io.livemig.guest.GuestMemory;
import io.livemig.stream.StreamException;

import java.io.IOException;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The destination's multifd channels, QEMU's {@code multifd_recv_state} and
 * {@code multifd_recv_sync_main}.
 *
 * <p>Threads. One {@link MultifdReceiver} per channel writes its packets' pages into guest memory;
 * the incoming migration thread (the RAM loader) calls {@link #syncMain} when the main stream says
 * {@code MULTIFD_FLUSH}. Each receiver, at its SYNC packet, releases {@link #syncs} and blocks on its
 * own semaphore; {@link #syncMain} takes one permit per channel (so every page sent before the
 * source's sync has been written) and then releases every receiver. The semaphores order the page
 * writes of the receivers before the loader's return and before the next round's writes.
 *
 * <p>Failure: the first receiver error is kept (naming the channel), every channel is closed, and
 * {@link #syncMain} throws it, which fails the load; waits poll with a bound so nothing hangs.
 */
public final class MultifdRecvGroup implements AutoCloseable {

    private static final long POLL_MS = 20;

    private final MultifdReceiver[] receivers;
    private final Semaphore syncs = new Semaphore(0);
    private volatile Throwable error;

    final MultifdProgress progress;

    /** {@code channels} indexed by channel id; no stall bound. */
    public MultifdRecvGroup(List<MigrationChannel> channels, GuestMemory memory, MultifdCompression compression) {
        this(channels, memory, compression, () -> 0);
    }

    /**
     * {@code stallTimeoutMs}: x-stall-timeout (0 = off), bounding how long {@link #syncMain} waits
     * for the channels' SYNCs while no channel moves a packet.
     */
    public MultifdRecvGroup(List<MigrationChannel> channels, GuestMemory memory, MultifdCompression compression,
                            LongSupplier stallTimeoutMs) {
        progress = new MultifdProgress(stallTimeoutMs);
        receivers = new MultifdReceiver[channels.size()];
        for (int i = 0; i < receivers.length; i++) {
            receivers[i] = new MultifdReceiver(i, channels.get(i), this, memory, compression);
        }
    }

    public MultifdRecvGroup start() {
        for (MultifdReceiver r : receivers) {
            r.start();
        }
        return this;
    }

    /** Waits until every channel has received its SYNC packet, then lets them all continue. */
    public void syncMain() throws IOException {
        long waitStart = System.nanoTime();
        try {
            while (!syncs.tryAcquire(receivers.length, POLL_MS, TimeUnit.MILLISECONDS)) {
                checkError();
                checkEnded();
                String stalled = progress.stalledSince(waitStart);
                if (stalled != null) {
                    throw new IOException(stalled + " (waiting for every channel's SYNC)");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted waiting for the multifd channels' sync");
        }
        // the permits may be the wake-up of a failed or ended channel rather than its SYNC
        checkError();
        checkEnded();
        for (MultifdReceiver r : receivers) {
            r.release.release();
        }
    }

    /**
     * A channel whose stream ended cleanly can send no SYNC any more, so the flush being waited
     * for can never complete: without this check a source that closes a channel early (or a main
     * stream with one MULTIFD_FLUSH too many) would hold the load forever. (A channel that is held
     * at its SYNC is not ended, so an ended one has given no permit to this round.)
     */
    private void checkEnded() throws StreamException {
        for (MultifdReceiver r : receivers) {
            if (r.ended) {
                throw new StreamException(String.format("multifd channel %d: stream ended after %d packets, without "
                        + "the SYNC packet the main stream's MULTIFD_FLUSH waits for (each flush needs one SYNC "
                        + "on every channel)", r.id, r.packets));
            }
        }
    }

    /** Throws the first channel error, if any. */
    public void checkError() throws IOException {
        Throwable t = error;
        if (t != null) {
            throw t instanceof IOException io ? io : new IOException(t.getMessage(), t);
        }
    }

    /** Closes every channel and waits (bounded) for the receivers to end. */
    @Override
    public void close() {
        for (MultifdReceiver r : receivers) {
            r.closeChannel();
        }
        for (MultifdReceiver r : receivers) {
            Thread th = r.thread();
            if (th != null) {
                th.interrupt();
                try {
                    th.join(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * Whether every receiver has ended or waits at a SYNC for {@link #syncMain}: nothing more
     * happens on the channels until the main stream moves (the fuzz tests' end-of-input check).
     */
    boolean idle() {
        for (MultifdReceiver r : receivers) {
            Thread th = r.thread();
            if (th != null && th.isAlive() && !r.release.hasQueuedThreads()) {
                return false;
            }
        }
        return true;
    }

    void syncReceived() {
        syncs.release();
    }

    /**
     * A channel failed or ended: wakes {@link #syncMain} now rather than at its next poll. The
     * permits can never make a flush succeed wrongly: the error or the end is recorded before
     * they are given, and {@link #syncMain} checks both after acquiring.
     */
    void wake() {
        syncs.release(receivers.length);
    }

    void fail(int channel, Throwable t) {
        synchronized (this) {
            if (error == null) {
                String desc = t.getMessage() != null ? t.getMessage() : t.toString();
                StreamException e = new StreamException("multifd channel " + channel + ": " + desc);
                e.initCause(t);
                error = e;
            }
        }
        wake();
        for (MultifdReceiver r : receivers) {
            r.closeChannel();
        }
    }
}
