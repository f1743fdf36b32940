package io.livemig.savevm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Detects a migration stream that stopped moving (parameter {@code x-stall-timeout}): a peer that
 * stops reading (the source's writes block forever once the socket buffers are full) or stops
 * sending (the destination's reads block forever). QEMU has no such bound; livemig fails the
 * migration instead of hanging. The multifd channels have their own check ({@code MultifdProgress}).
 *
 * <p>Design. The I/O thread's channel is wrapped ({@link #watch(WritableByteChannel)} /
 * {@link #watch(ReadableByteChannel)}); the wrapper marks "inside a read or write" and counts the
 * bytes each call moved. A separate watchdog thread samples both every quarter of the timeout.
 * The stream is stalled when the I/O thread has been inside a call for the whole timeout without
 * one byte moving; time spent outside I/O (building pages, loading them, waiting for a rate
 * window) never counts. On a stall the watchdog runs {@code onStall} once, which closes the
 * channel exactly as {@code migrate_cancel} does, so the blocked call throws and the owner's
 * normal failure path runs.
 *
 * <p>Cost on the data path: the wrappers are called once per stream buffer, not per page; each
 * call does two volatile stores and one volatile add by the single I/O thread. No lock.
 *
 * <p>Memory order: {@code moved} and {@code inIo} have one writer (the I/O thread) and are volatile,
 * so the watchdog's reads see every completed call; a sample racing a call that is just starting
 * or ending at worst delays detection by one sample period.
 */
public final class StallWatchdog implements Runnable, AutoCloseable {

    /** Sample period bounds: fine enough for short test timeouts, coarse enough to cost nothing. */
    private static final long MIN_PERIOD_MS = 10;
    private static final long MAX_PERIOD_MS = 500;

    private final LongSupplier timeoutMs;
    private final Runnable onStall;
    private volatile long moved;
    private volatile boolean inIo;
    private volatile boolean closed;
    private volatile long firedAfterMs;
    private Thread thread;

    /**
     * @param timeoutMs read at each sample, so a new {@code x-stall-timeout} applies at once; 0 = off
     * @param onStall   run once, on the watchdog thread, when the stream stalled
     */
    public StallWatchdog(LongSupplier timeoutMs, Runnable onStall) {
        this.timeoutMs = timeoutMs;
        this.onStall = onStall;
    }

    public StallWatchdog start(String name) {
        thread = Thread.ofPlatform().daemon().name(name).start(this);
        return this;
    }

    /** Whether the watchdog fired; then {@link #firedAfterMs()} is the timeout that elapsed. */
    public boolean fired() {
        return firedAfterMs > 0;
    }

    public long firedAfterMs() {
        return firedAfterMs;
    }

    /** The message a stalled migration fails with: {@code "migration stalled: no progress for 30 s"}. */
    public String message() {
        return message(firedAfterMs);
    }

    /** {@code "migration stalled: no progress for 30 s"} (or {@code 250 ms}) for a timeout of {@code ms}. */
    public static String message(long ms) {
        String d = ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
        return "migration stalled: no progress for " + d;
    }

    @Override
    public void run() {
        long lastMoved = moved;
        long lastChange = System.nanoTime();
        while (!closed) {
            long t = timeoutMs.getAsLong();
            long period = t > 0 ? Math.clamp(t / 4, MIN_PERIOD_MS, MAX_PERIOD_MS) : MAX_PERIOD_MS;
            LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(period));
            long m = moved;
            long now = System.nanoTime();
            if (m != lastMoved || !inIo) {
                lastMoved = m;
                lastChange = now;
                continue;
            }
            if (!closed && t > 0 && now - lastChange >= TimeUnit.MILLISECONDS.toNanos(t)) {
                firedAfterMs = t;
                onStall.run();
                return;
            }
        }
    }

    /** Stops the watchdog (the migration is over); idempotent. */
    @Override
    public void close() {
        closed = true;
        Thread th = thread;
        if (th != null) {
            LockSupport.unpark(th);
        }
    }

    @FunctionalInterface
    private interface Io {
        int run() throws IOException;
    }

    /** Runs one read or write of the owner thread, marking it in progress and counting what moved. */
    private int counted(Io io) throws IOException {
        inIo = true;
        try {
            int n = io.run();
            if (n > 0) {
                moved = moved + n; // single writer: the thread that owns the stream
            }
            return n;
        } finally {
            inIo = false;
        }
    }

    /** {@code ch} with its writes watched. */
    public WritableByteChannel watch(WritableByteChannel ch) {
        return new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) throws IOException {
                return counted(() -> ch.write(src));
            }

            @Override
            public boolean isOpen() {
                return ch.isOpen();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }

    /** {@code ch} with its reads watched. */
    public ReadableByteChannel watch(ReadableByteChannel ch) {
        return new ReadableByteChannel() {
            @Override
            public int read(ByteBuffer dst) throws IOException {
                return counted(() -> ch.read(dst));
            }

            @Override
            public boolean isOpen() {
                return ch.isOpen();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }
}
