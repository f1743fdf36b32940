package io.livemig.savevm;

import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The three iteration policies on synthetic devices and windows: QEMU's loops starve a device
 * behind a greedy one at a low budget; fair gives each its quantum.
 */
class PassSchedulerTest {

    /** Counts bytes, discards them. */
    static final class Sink implements WritableByteChannel {
        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            src.position(src.limit());
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** Like RAM under a busy guest: 4 KiB records until its limit says stop; never finished. */
    static final class Greedy implements SaveStateHandler {
        @Override
        public boolean isIterative() {
            return true;
        }

        @Override
        public int saveIterate(MigrationOutput out, RateLimit limit) {
            while (!limit.exceeded()) {
                out.putBytes(new byte[4096]);
            }
            return ITERATE_MORE;
        }

        @Override
        public void loadState(MigrationInput in, int versionId, int sectionType) {
        }
    }

    /** Like VFIO: one 1 MiB chunk per call, ignoring the limit, until {@code left} is sent. */
    static final class Chunky implements SaveStateHandler {
        long left;
        long calls;
        int result = ITERATE_MORE;

        Chunky(long left) {
            this.left = left;
        }

        @Override
        public boolean isIterative() {
            return true;
        }

        @Override
        public int saveIterate(MigrationOutput out, RateLimit limit) {
            calls++;
            if (result < 0) {
                return result;
            }
            int n = (int) Math.min(left, 1 << 20);
            out.putBytes(new byte[n]);
            left -= n;
            return left == 0 ? ITERATE_FINISHED : ITERATE_MORE;
        }

        @Override
        public void loadState(MigrationInput in, int versionId, int sectionType) {
        }
    }

    record Run(Map<SaveStateEntry, DeviceCounters> counters, List<SaveStateEntry> entries, MigrationOutput out) {
        long bytes(int i) {
            return counters.get(entries.get(i)).transferred();
        }
    }

    /** Runs {@code windows} windows of {@code budgetPerWindow}: passes until the budget is spent, as MigrationSource does. */
    static Run run(IterationPolicy policy, long budgetPerWindow, int windows, SaveStateHandler... handlers) {
        HandlerRegistry reg = new HandlerRegistry();
        for (int i = 0; i < handlers.length; i++) {
            reg.register("dev" + i, 1, handlers[i]);
        }
        List<SaveStateEntry> entries = reg.entries();
        Map<SaveStateEntry, DeviceCounters> counters = new IdentityHashMap<>();
        for (SaveStateEntry e : entries) {
            counters.put(e, new DeviceCounters(e));
        }
        SectionWriter writer = new SectionWriter(counters);
        MigrationOutput out = new MigrationOutput(new Sink(), 1 << 16);
        RateLimiter rate = new RateLimiter(out::transferred, budgetPerWindow * RateLimiter.XFER_LIMIT_RATIO);
        PassScheduler s = policy.newScheduler();
        for (int w = 0; w < windows; w++) {
            rate.startWindow(w * 100_000_000L);
            int passes = 0;
            while (!rate.exceeded() && passes++ < 10_000) {
                if (s.runPass(entries, out, rate, writer) < 0 || out.hasError()) {
                    return new Run(counters, entries, out);
                }
            }
        }
        return new Run(counters, entries, out);
    }

    static final long BUDGET = 3_355_443; // 32 MiB/s as a 100 ms window

    @Test
    void serialNeverReachesTheDeviceBehindABusyOne() {
        Chunky vfio = new Chunky(16 << 20);
        Run r = run(IterationPolicy.SERIAL, BUDGET, 50, new Greedy(), vfio);
        assertThat(vfio.calls).isZero();
        assertThat(r.counters().get(r.entries().get(1)).iterations()).isZero();
    }

    @Test
    void allStarvesTheDeviceBehindAGreedyOneAtALowBudget() {
        Chunky vfio = new Chunky(16 << 20);
        run(IterationPolicy.ALL, BUDGET, 50, new Greedy(), vfio);
        assertThat(vfio.calls).as("QEMU 9.0's check before each device ends every pass at the greedy device").isZero();
    }

    @Test
    void allServesEveryDeviceWhenTheBudgetIsUnlimited() {
        Chunky vfio = new Chunky(16 << 20);
        Chunky other = new Chunky(8 << 20);
        run(IterationPolicy.ALL, 0, 1, other, vfio);
        assertThat(vfio.left).isZero();
        assertThat(other.left).isZero();
    }

    @ParameterizedTest(name = "{0} greedy devices ahead")
    @ValueSource(ints = {1, 2, 3})
    void fairGivesEveryDeviceItsQuantumEachWindow(int greedy) {
        SaveStateHandler[] hs = new SaveStateHandler[greedy + 1];
        for (int i = 0; i < greedy; i++) {
            hs[i] = new Greedy();
        }
        Chunky vfio = new Chunky(Long.MAX_VALUE / 2);
        hs[greedy] = vfio;
        int windows = 200;
        Run r = run(IterationPolicy.FAIR, BUDGET, windows, hs);
        int n = greedy + 1;
        long total = 0;
        for (int i = 0; i < n; i++) {
            total += r.bytes(i);
        }
        // the promise: every device is served each window and overshoot (one record: a 1 MiB
        // chunk) is charged to its next quantum and to the next window, so over the run each
        // device gets budget/n per window within a couple of records
        long fairShare = (long) windows * BUDGET / n;
        assertThat(total).as("the window budget holds on average").isBetween((long) windows * BUDGET, (long) windows * BUDGET + (2L << 20));
        for (int i = 0; i < n; i++) {
            assertThat(r.bytes(i)).as("device %d of %d over %d windows (total %d)", i, n, windows, total)
                    .isBetween(fairShare - 2 * (1L << 20), fairShare + 2 * (1L << 20));
        }
        assertThat(vfio.calls).isPositive();
    }

    @Test
    void fairIsWorkConservingWhenADeviceHasNothingToSend() {
        Chunky done = new Chunky(0);
        done.result = SaveStateHandler.ITERATE_FINISHED;
        Greedy ram = new Greedy();
        int windows = 50;
        Run r = run(IterationPolicy.FAIR, BUDGET, windows, done, ram);
        // the idle device's quantum is not wasted: RAM gets (nearly) the whole budget
        assertThat(r.bytes(1)).isGreaterThan((long) (windows * BUDGET * 0.95));
    }

    @Test
    void aFailingDeviceEndsThePassAndSetsTheStreamError() {
        Chunky bad = new Chunky(1 << 20);
        bad.result = -5;
        Chunky after = new Chunky(1 << 20);
        for (IterationPolicy p : IterationPolicy.values()) {
            bad.calls = 0;
            after.calls = 0;
            Run r = run(p, 0, 1, bad, after);
            assertThat(bad.calls).as(p.qapiName()).isEqualTo(1);
            assertThat(after.calls).as(p.qapiName()).isZero();
            assertThat(r.out().hasError()).as(p.qapiName()).isTrue();
        }
    }
}
