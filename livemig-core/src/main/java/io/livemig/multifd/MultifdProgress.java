package io.livemig.multifd;

import io.livemig.savevm.StallWatchdog;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * {@code x-stall-timeout} for the multifd channels. The main channel's {@link StallWatchdog}
 * watches only the main stream; a peer that stops reading (or sending) on one multifd channel
 * would leave the migration thread waiting for that channel's sync, or for a free packet, forever.
 *
 * <p>Design: every sender and receiver stamps the time after each read or write that moved bytes
 * (so a slow link that needs many calls per 512 KiB packet is progress); the group's
 * waits (which already poll every 20 ms) ask {@link #stalledSince} whether nothing moved on any
 * channel for the timeout, counted from the later of the last packet and the start of the wait
 * (channels may idle legitimately before a wait, e.g. while a rate-limit window is closed). No
 * thread of its own, nothing on the page path but one volatile store per read or write call.
 */
final class MultifdProgress {

    private final LongSupplier timeoutMs;
    private volatile long lastNanos = System.nanoTime();

    /** {@code timeoutMs}: read at each check, 0 = off (the parameter may change during a migration). */
    MultifdProgress(LongSupplier timeoutMs) {
        this.timeoutMs = timeoutMs;
    }

    /** Bytes moved on some channel. */
    void moved() {
        lastNanos = System.nanoTime();
    }

    /**
     * The stall message ({@code "migration stalled: no progress for 30 s on the multifd
     * channels"}) when nothing moved since {@code waitStartNanos} for the timeout, else null.
     */
    String stalledSince(long waitStartNanos) {
        long t = timeoutMs.getAsLong();
        if (t <= 0) {
            return null;
        }
        long since = Math.max(lastNanos, waitStartNanos);
        if (System.nanoTime() - since < TimeUnit.MILLISECONDS.toNanos(t)) {
            return null;
        }
        return StallWatchdog.message(t) + " on the multifd channels";
    }
}
