package io.livemig.savevm;

import io.livemig.stream.MigrationOutput;

import java.util.List;

/**
 * How one pre-copy pass shares the stream among the iterative devices: the loop of QEMU's
 * {@code qemu_savevm_state_iterate()}.
 *
 * <ul>
 *   <li>{@link #SERIAL}: QEMU before 9.0 — the pass ends at the first device that is not finished,
 *       so a device that never finishes (busy RAM) starves every device after it.</li>
 *   <li>{@link #ALL}: QEMU 9.0+ — every device gets a turn each pass, but the rate-limit check
 *       before each device ends the pass once the window's budget is spent, so at a low
 *       max-bandwidth the first device can still eat every window.</li>
 * </ul>
 * A negative result from a device sets the stream error and ends the pass at once.
 */
public enum IterationPolicy {
    SERIAL("serial"),
    ALL("all");

    private final String qapiName;

    IterationPolicy(String qapiName) {
        this.qapiName = qapiName;
    }

    public String qapiName() {
        return qapiName;
    }

    public static IterationPolicy fromQapi(String name) {
        for (IterationPolicy p : values()) {
            if (p.qapiName.equals(name)) {
                return p;
            }
        }
        return null;
    }

    /**
     * Runs one pass over {@code entries} (active iterative devices in list order).
     *
     * @return 1 if every device reported finished, 0 if some did not (or the budget ran out),
     *         negative on error (the stream error is then set)
     */
    public int iterate(List<SaveStateEntry> entries, MigrationOutput out, RateLimit limit, SectionWriter writer) {
        boolean allFinished = true;
        for (SaveStateEntry e : entries) {
            if (!e.handler().isActiveIterate()) {
                continue;
            }
            if (limit.exceeded()) {
                return 0;
            }
            int r = writer.part(e, out, limit);
            if (r < 0) {
                return r;
            }
            if (r == SaveStateHandler.ITERATE_MORE) {
                allFinished = false;
                if (this == SERIAL) {
                    return 0;
                }
            }
        }
        return allFinished ? 1 : 0;
    }
}
