package io.livemig.savevm;

/**
 * How one pre-copy pass shares the stream among the iterative devices: the loop of QEMU's
 * {@code qemu_savevm_state_iterate()}, selected with {@code x-iterate-policy}.
 *
 * <ul>
 *   <li>{@link #SERIAL}: QEMU before 9.0 — the pass ends at the first device that is not
 *       finished, so a device that never finishes (busy RAM) starves every device after it.</li>
 *   <li>{@link #ALL}: QEMU 9.0+ — every device gets a turn each pass, but the rate-limit check
 *       before each device ends the pass once the window's budget is spent, so at a low
 *       max-bandwidth the first device can still eat every window.</li>
 *   <li>{@link #FAIR}: livemig's default — deficit round robin over the window budget
 *       ({@link FairScheduler}); no active iterative device starves at any max-bandwidth.</li>
 * </ul>
 */
public enum IterationPolicy {
    SERIAL("serial"),
    ALL("all"),
    FAIR("fair");

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

    /** A scheduler for one migration (FAIR keeps per-device state across passes). */
    public PassScheduler newScheduler() {
        return switch (this) {
            case SERIAL -> new QemuScheduler(true);
            case ALL -> new QemuScheduler(false);
            case FAIR -> new FairScheduler();
        };
    }
}
