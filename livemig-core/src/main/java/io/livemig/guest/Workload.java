package io.livemig.guest;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Synthetic vCPUs: threads that dirty the pages of one {@link RamBlock} at a set rate, as a
 * guest would, while honouring the {@link RunStateGate} ({@code -workload …}, see {@link WorkloadSpec}).
 *
 * <h2>What a vCPU does</h2>
 * Each dirtied page gets one 8-byte write of a pseudo-random value at a pseudo-random 8-byte
 * aligned offset inside the page, through {@link RamBlock#writeLong} (so the dirty log is
 * marked). Thread {@code n} draws pages, offsets and values from its own SplitMix64 stream
 * seeded from {@code (seed, n)}: the same spec writes the same sequence. Patterns:
 * RANDOM is uniform over the block; SEQUENTIAL sweeps the block with the threads interleaved
 * (thread {@code n} writes pages {@code n, n+threads, …}, wrapping); HOTSET is uniform over the
 * pages of the first {@code hotsetSize} bytes (rounded up to whole pages, the unit of dirty
 * tracking).
 *
 * <h2>Pacing</h2>
 * The dirty rate (bytes of dirtied pages per second, over all threads) is split evenly over the
 * threads; each thread runs a token bucket on {@link System#nanoTime()} holding at most
 * {@value #BUCKET_NANOS} ns worth of pages, so a pause does not turn into a burst. Writes happen
 * in batches between {@link RunStateGate#enter()} and {@link RunStateGate#exit()}, each batch
 * at most {@value #BATCH_NANOS} ns long, so a stop request waits at most about that long.
 * Unthrottled threads write batches of at most {@value #UNTHROTTLED_BATCH} pages. The write
 * loop allocates nothing.
 *
 * <h2>Counters</h2>
 * Each thread publishes its own count of writes in a padded slot (single writer, opaque
 * stores); {@link #pagesDirtied()} sums the slots.
 */
public final class Workload implements AutoCloseable {

    static final long BATCH_NANOS = 1_000_000L;
    static final long BUCKET_NANOS = 4_000_000L;
    static final int UNTHROTTLED_BATCH = 1024;
    private static final long CLOSE_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** longs per counter slot: 128 bytes, two cache lines, against false sharing */
    private static final int SLOT = 16;
    private static final VarHandle COUNTS = MethodHandles.arrayElementVarHandle(long[].class);

    private final WorkloadSpec spec;
    private final RamBlock block;
    private final RunStateGate gate;
    private final long maxPagesPerThread;
    private final Thread[] threads;
    private final long[] counts;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean stop;

    private Workload(WorkloadSpec spec, RamBlock block, RunStateGate gate, long maxPagesPerThread) {
        this.spec = spec;
        this.block = block;
        this.gate = gate;
        this.maxPagesPerThread = maxPagesPerThread;
        this.threads = new Thread[spec.threads()];
        this.counts = new long[(spec.threads() + 1) * SLOT];
    }

    /**
     * Validates {@code spec} against {@code block} and starts the vCPU threads
     * ({@code vcpu-<target>-<n>}, daemon).
     *
     * @throws IllegalArgumentException naming the bad value and the rule
     */
    public static Workload start(WorkloadSpec spec, RamBlock block, RunStateGate gate) {
        return start(spec, block, gate, 0);
    }

    /** As {@link #start(WorkloadSpec, RamBlock, RunStateGate)}; each thread ends after {@code maxPagesPerThread} writes (0: never). */
    static Workload start(WorkloadSpec spec, RamBlock block, RunStateGate gate, long maxPagesPerThread) {
        validate(spec, block);
        Objects.requireNonNull(gate, "gate");
        if (maxPagesPerThread < 0) {
            throw new IllegalArgumentException("maxPagesPerThread must be >= 0, got " + maxPagesPerThread);
        }
        Workload w = new Workload(spec, block, gate, maxPagesPerThread);
        for (int n = 0; n < w.threads.length; n++) {
            Thread t = new Thread(w.new Vcpu(n), "vcpu-" + spec.target() + "-" + n);
            t.setDaemon(true);
            w.threads[n] = t;
        }
        for (Thread t : w.threads) {
            t.start();
        }
        return w;
    }

    static void validate(WorkloadSpec spec, RamBlock block) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(block, "block");
        Objects.requireNonNull(spec.pattern(), "pattern");
        if (!block.idstr().equals(spec.target())) {
            throw new IllegalArgumentException("workload target must be the RAM block it writes, '"
                    + block.idstr() + "', got '" + spec.target() + "'");
        }
        if (spec.threads() < 1) {
            throw new IllegalArgumentException("workload threads must be at least 1, got " + spec.threads());
        }
        if (spec.dirtyRate() < 1 && spec.dirtyRate() != WorkloadSpec.UNTHROTTLED) {
            throw new IllegalArgumentException("workload dirty-rate must be at least 1 byte/s or max, got "
                    + spec.dirtyRate());
        }
        if (spec.writeBytes() < Long.BYTES || spec.writeBytes() > PageSize.TARGET_PAGE_SIZE
                || spec.writeBytes() % Long.BYTES != 0) {
            throw new IllegalArgumentException("workload write-bytes must be a multiple of 8 in 8.."
                    + PageSize.TARGET_PAGE_SIZE + ", got " + spec.writeBytes());
        }
        if (spec.pattern() == WorkloadSpec.Pattern.HOTSET
                && (spec.hotsetSize() <= 0 || spec.hotsetSize() > block.size())) {
            throw new IllegalArgumentException("workload hotset-size must be 1.." + block.size()
                    + " bytes (the size of '" + block.idstr() + "'), got " + spec.hotsetSize());
        }
    }

    /** The spec this workload runs. */
    public WorkloadSpec spec() {
        return spec;
    }

    /** Total page writes so far over all threads. */
    public long pagesDirtied() {
        long sum = 0;
        for (int n = 0; n < threads.length; n++) {
            sum += (long) COUNTS.getOpaque(counts, (n + 1) * SLOT);
        }
        return sum;
    }

    /** The first exception that ended a vCPU thread, or {@code null}. */
    public Throwable failure() {
        return failure.get();
    }

    /** Whether every vCPU thread has ended. */
    public boolean isDone() {
        for (Thread t : threads) {
            if (t.isAlive()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Stops the threads and waits for them (at most 5 s).
     *
     * @throws IllegalStateException when a thread did not end in time
     */
    @Override
    public void close() {
        stop = true;
        for (Thread t : threads) {
            t.interrupt(); // wakes a thread parked in the gate or in pacing
        }
        long deadline = System.nanoTime() + CLOSE_TIMEOUT_NANOS;
        boolean interrupted = false;
        try {
            for (Thread t : threads) {
                for (;;) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    try {
                        t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
                if (t.isAlive()) {
                    throw new IllegalStateException("vCPU thread " + t.getName() + " did not stop within 5 s");
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** One vCPU thread: its random stream, its cursor and its token bucket. */
    private final class Vcpu implements Runnable {
        private final int index;
        private final int slot;
        private final SplitMix64 rng;
        private final long pages = block.pages();
        private final long hotPages = (spec.hotsetSize() + PageSize.TARGET_PAGE_SIZE - 1) >>> PageSize.TARGET_PAGE_BITS;
        private long cursor;

        Vcpu(int index) {
            this.index = index;
            this.slot = (index + 1) * SLOT;
            this.rng = new SplitMix64(spec.seed() ^ SplitMix64.mix(index + 1L));
            this.cursor = index % pages;
        }

        @Override
        public void run() {
            try {
                loop();
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }

        private void loop() {
            boolean throttled = spec.dirtyRate() != WorkloadSpec.UNTHROTTLED;
            // pages per nanosecond for this thread
            double rate = throttled
                    ? spec.dirtyRate() / (double) PageSize.TARGET_PAGE_SIZE / threads.length / 1e9
                    : 0;
            double capacity = Math.max(1.0, rate * BUCKET_NANOS);
            double tokens = 0;
            long last = System.nanoTime();
            long done = 0;
            while (!stop) {
                if (!gate.enter()) {
                    return;
                }
                long written = 0;
                try {
                    long now = System.nanoTime();
                    long budget;
                    if (throttled) {
                        tokens = Math.min(capacity, tokens + (now - last) * rate);
                        last = now;
                        budget = (long) tokens;
                    } else {
                        budget = UNTHROTTLED_BATCH;
                    }
                    if (maxPagesPerThread > 0) {
                        budget = Math.min(budget, maxPagesPerThread - done);
                    }
                    long deadline = now + BATCH_NANOS;
                    while (written < budget && !stop) {
                        writeOnePage();
                        written++;
                        if ((written & 31) == 0 && System.nanoTime() - deadline > 0) {
                            break;
                        }
                    }
                } finally {
                    gate.exit();
                }
                done += written;
                COUNTS.setOpaque(counts, slot, done);
                if (maxPagesPerThread > 0 && done >= maxPagesPerThread) {
                    return;
                }
                if (throttled) {
                    tokens -= written;
                    if (tokens < 1) {
                        LockSupport.parkNanos((long) ((1 - tokens) / rate) + 1);
                    }
                }
            }
        }

        private void writeOnePage() {
            long page = switch (spec.pattern()) {
                case RANDOM -> rng.nextBelow(pages);
                case HOTSET -> rng.nextBelow(hotPages);
                case SEQUENTIAL -> nextSequential();
            };
            int n = spec.writeBytes();
            if (n == Long.BYTES) {
                long inPage = (rng.next() & (PageSize.TARGET_PAGE_SIZE / Long.BYTES - 1)) * Long.BYTES;
                block.writeLong((page << PageSize.TARGET_PAGE_BITS) + inPage, rng.next());
                return;
            }
            // n bytes at an 8-byte aligned offset that keeps them inside the page
            long inPage = rng.nextBelow((PageSize.TARGET_PAGE_SIZE - n) / Long.BYTES + 1) * Long.BYTES;
            long at = (page << PageSize.TARGET_PAGE_BITS) + inPage;
            for (int i = 0; i < n; i += Long.BYTES) {
                block.writeLong(at + i, rng.next());
            }
        }

        private long nextSequential() {
            long page = cursor;
            cursor += threads.length;
            if (cursor >= pages) {
                cursor %= pages;
            }
            return page;
        }
    }

    /** SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state, one add and a mix per value. */
    static final class SplitMix64 {
        private long state;

        SplitMix64(long seed) {
            this.state = seed;
        }

        static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        long next() {
            state += 0x9E3779B97F4A7C15L;
            return mix(state);
        }

        /** Uniform in {@code [0, bound)} for {@code bound > 0} (multiply-high; bias below 2^-40 for bounds under 2^24 pages). */
        long nextBelow(long bound) {
            return Math.unsignedMultiplyHigh(next(), bound);
        }
    }
}
