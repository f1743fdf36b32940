package io.livemig.devices.machine;

import io.livemig.guest.RunState;
import io.livemig.savevm.SaveStateHandler;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.VmdescWriter;

import java.io.IOException;
import java.util.List;

/**
 * Section {@code timer} (instance 0, version 2), QEMU's {@code timers_state}: the guest's virtual
 * clock, which advances only while the guest runs, so time does not jump across a migration.
 *
 * <pre>
 *  FULL "timer" v2:  be64 cpu_ticks_offset | 8 unused bytes | be64 cpu_clock_offset
 * </pre>
 * Saved with the guest stopped, when both offsets hold the guest time elapsed so far (in ns; a
 * guest that never ran sends zeros, as QEMU does). Loading sets the destination's clock to it.
 */
public final class CpuTimers implements SaveStateHandler {

    public static final String IDSTR = "timer";
    public static final int VERSION = 2;

    /** guest nanoseconds accumulated up to the last stop */
    private long accumulatedNanos;
    /** host time of the last start, or -1 while stopped */
    private long runningSinceNanos = -1;

    /** Follows the guest's run state (a gate listener). */
    public synchronized void onRunState(RunState state) {
        long now = System.nanoTime();
        if (state.isRunning()) {
            if (runningSinceNanos < 0) {
                runningSinceNanos = now;
            }
        } else if (runningSinceNanos >= 0) {
            accumulatedNanos += now - runningSinceNanos;
            runningSinceNanos = -1;
        }
    }

    /** Guest time in ns (QEMU's {@code cpu_get_clock()}). */
    public synchronized long guestNanos() {
        return accumulatedNanos + (runningSinceNanos >= 0 ? System.nanoTime() - runningSinceNanos : 0);
    }

    @Override
    public boolean isIterative() {
        return false;
    }

    @Override
    public boolean hasState() {
        return true;
    }

    @Override
    public void saveState(MigrationOutput out) {
        long t = guestNanos();
        out.putBe64(t);
        out.putBe64(0);
        out.putBe64(t);
    }

    @Override
    public String vmsdName() {
        return IDSTR;
    }

    @Override
    public List<VmdescWriter.Field> vmdescFields() {
        return List.of(new VmdescWriter.Field("cpu_ticks_offset", "int64", 8),
                new VmdescWriter.Field("unused", "unused_buffer", 8),
                new VmdescWriter.Field("cpu_clock_offset", "int64", 8));
    }

    @Override
    public void loadState(MigrationInput in, int versionId, int sectionType) throws IOException {
        in.getBe64(); // cpu_ticks_offset: host-specific in QEMU; the clock offset carries guest time
        in.skip(8);
        long clock = versionId >= 2 ? in.getBe64() : 0;
        synchronized (this) {
            accumulatedNanos = Math.max(0, clock);
            if (runningSinceNanos >= 0) {
                runningSinceNanos = System.nanoTime();
            }
        }
    }
}
