package io.livemig.savevm;

import io.livemig.stream.MigrationOutput;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * livemig's {@code fair} policy: deficit round robin over the rate limiter's window budget.
 *
 * <p>Why QEMU's loops starve: both check the budget before each device and end the pass when it is
 * spent. A device earlier in the list that always has data (RAM under a busy guest, re-synced
 * every pass once the pending total is under the threshold) spends the whole budget of every
 * window, and the devices after it are never called — with switchover-ack, a device whose initial
 * data never moves blocks convergence forever.
 *
 * <p>The algorithm. When a new 100 ms window begins, each active iterative device's deficit
 * grows by a quantum {@code q = budget / n} (n = active iterative devices), capped at one whole
 * budget so an idle device cannot hoard. In a pass, devices are visited from a start index that
 * rotates by one each pass; a device is called only while its deficit is positive, and it sees a
 * rate limit that is exceeded once it has written its deficit (or the window's budget is spent).
 * What it wrote is subtracted from its deficit. A device that reports itself finished loses its
 * remaining deficit (an empty queue in DRR). When no device may go but the window still has
 * budget (some devices are idle), the leftover is split among the devices that still have data,
 * so bandwidth is never left unused while someone has data (work conserving).
 *
 * <p>What each device gets. While k devices have data, each receives at least
 * {@code budget / n} bytes per window minus one record of overshoot (a 4 KiB page for RAM, a
 * 1 MiB chunk for VFIO or block), and the overshoot is charged to its next quantum, so over W
 * windows its share is within one record of {@code W × budget / n}; leftovers of idle devices
 * raise that to {@code budget / k}. No device with data waits more than one window for its turn.
 *
 * <p>Unlimited bandwidth ({@code max-bandwidth 0}): there is no budget to divide, so every active
 * device gets exactly one turn per pass, in rotating order; each bounds its own turn (RAM stops
 * after 50 ms, VFIO after 1 MiB), so none waits more than one pass.
 *
 * <p>Threading: the migration thread alone.
 */
final class FairScheduler implements PassScheduler {

    private final Map<SaveStateEntry, Long> deficit = new IdentityHashMap<>();
    private final Map<SaveStateEntry, Boolean> backlogged = new IdentityHashMap<>();
    private final DeviceLimit own = new DeviceLimit();
    private long windowSeen = Long.MIN_VALUE;
    private int start;

    /** The limit one device sees during its turn: its deficit, or the window's budget. Reused. */
    private static final class DeviceLimit implements RateLimit {
        private RateLimiter rate;
        private MigrationOutput out;
        private long end;

        void arm(RateLimiter r, MigrationOutput o, long before, long deficit) {
            rate = r;
            out = o;
            end = before + deficit;
        }

        @Override
        public boolean exceeded() {
            return out.transferred() >= end || rate.exceeded();
        }
    }

    @Override
    public int runPass(List<SaveStateEntry> all, MigrationOutput out, RateLimiter rate, SectionWriter writer) {
        List<SaveStateEntry> entries = all.stream().filter(e -> e.handler().isActiveIterate()).toList();
        int n = entries.size();
        if (n == 0) {
            return 1;
        }
        long budget = rate.budgetPerWindow();
        int first = start++ % n;
        if (budget == 0) {
            return oneTurnEach(entries, first, out, rate, writer);
        }
        if (rate.windowStartNanos() != windowSeen) {
            windowSeen = rate.windowStartNanos();
            long quantum = Math.max(1, budget / n);
            for (SaveStateEntry e : entries) {
                deficit.put(e, Math.min(budget, deficit.getOrDefault(e, 0L) + quantum));
            }
        }
        boolean allFinished = true;
        boolean anyCalled = false;
        for (int k = 0; k < n; k++) {
            SaveStateEntry e = entries.get((first + k) % n);
            if (rate.exceeded()) {
                return 0;
            }
            long d = deficit.getOrDefault(e, 0L);
            if (d <= 0) {
                if (backlogged.getOrDefault(e, true)) {
                    allFinished = false;
                }
                continue;
            }
            long before = out.transferred();
            own.arm(rate, out, before, d);
            int r = writer.part(e, out, own);
            anyCalled = true;
            long spent = out.transferred() - before;
            if (r < 0) {
                return r;
            }
            if (r == SaveStateHandler.ITERATE_MORE) {
                allFinished = false;
                backlogged.put(e, true);
                deficit.put(e, d - spent);
            } else {
                backlogged.put(e, false);
                deficit.put(e, 0L);
            }
        }
        if (!anyCalled && !rate.exceeded()) {
            topUp(entries, budget - rate.usedInWindow());
        }
        return allFinished ? 1 : 0;
    }

    /** Work conservation: shares what is left of the window among the devices that still have data. */
    private void topUp(List<SaveStateEntry> entries, long left) {
        List<SaveStateEntry> waiting = entries.stream().filter(e -> backlogged.getOrDefault(e, true)).toList();
        List<SaveStateEntry> to = waiting.isEmpty() ? entries : waiting;
        long share = Math.max(1, left / to.size());
        for (SaveStateEntry e : to) {
            deficit.put(e, deficit.getOrDefault(e, 0L) + share);
        }
    }

    private static int oneTurnEach(List<SaveStateEntry> entries, int first, MigrationOutput out, RateLimiter rate,
                                   SectionWriter writer) {
        boolean allFinished = true;
        for (int k = 0; k < entries.size(); k++) {
            int r = writer.part(entries.get((first + k) % entries.size()), out, rate);
            if (r < 0) {
                return r;
            }
            if (r == SaveStateHandler.ITERATE_MORE) {
                allFinished = false;
            }
        }
        return allFinished ? 1 : 0;
    }
}
