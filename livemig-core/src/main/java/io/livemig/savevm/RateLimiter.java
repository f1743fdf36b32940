package io.livemig.savevm;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Per-window byte budget, QEMU's {@code migration_rate_*}: {@code max-bandwidth / 10} bytes per
 * 100 ms window ({@code BUFFER_DELAY}, {@code XFER_LIMIT_RATIO}). A limit of 0 is unlimited
 * ({@code RATE_LIMIT_DISABLED}), never "stopped". Bytes are counted on the stream
 * ({@code transferred}), so every byte any device puts in counts against the same budget.
 *
 * <p>Threading: the window is owned by the migration thread; {@link #setMaxBandwidth} may be
 * called from QMP at any time and takes effect at once (volatile).
 */
public final class RateLimiter implements RateLimit {

    public static final long BUFFER_DELAY_MS = 100;
    public static final long XFER_LIMIT_RATIO = 1000 / BUFFER_DELAY_MS;

    private final LongSupplier transferred;
    private volatile long budgetPerWindow;
    private long windowStartBytes;
    private long windowStartNanos;

    public RateLimiter(LongSupplier transferred, long maxBandwidth) {
        this.transferred = transferred;
        setMaxBandwidth(maxBandwidth);
        windowStartBytes = transferred.getAsLong();
        windowStartNanos = System.nanoTime();
    }

    /** Sets the limit in bytes per second; 0 is unlimited. */
    public void setMaxBandwidth(long bytesPerSecond) {
        budgetPerWindow = bytesPerSecond / XFER_LIMIT_RATIO;
    }

    public long budgetPerWindow() {
        return budgetPerWindow;
    }

    /**
     * Starts a new window now. Bytes written past the last window's budget (a device that writes
     * a whole record, such as a 1 MiB VFIO chunk, after the budget was nearly spent) are charged
     * to the new window, up to one budget, so max-bandwidth holds on average. QEMU forgets the
     * overshoot, which lets a VFIO device exceed max-bandwidth by up to 1 MiB per window.
     */
    public void startWindow(long nowNanos) {
        long now = transferred.getAsLong();
        long budget = budgetPerWindow;
        long over = budget == 0 ? 0 : Math.min(budget, Math.max(0, now - windowStartBytes - budget));
        windowStartNanos = nowNanos;
        windowStartBytes = now - over;
    }

    public long windowStartNanos() {
        return windowStartNanos;
    }

    /** Bytes put in the current window. */
    public long usedInWindow() {
        return transferred.getAsLong() - windowStartBytes;
    }

    @Override
    public boolean exceeded() {
        long budget = budgetPerWindow;
        return budget != 0 && usedInWindow() >= budget;
    }

    /**
     * Parks until the end of the current window (QEMU sleeps on {@code rate_limit_sem}). Returns
     * early when the thread is unparked (cancel) or interrupted.
     */
    public void awaitWindowEnd() {
        long end = windowStartNanos + TimeUnit.MILLISECONDS.toNanos(BUFFER_DELAY_MS);
        long left = end - System.nanoTime();
        if (left > 0) {
            LockSupport.parkNanos(this, left);
        }
    }
}
