package io.livemig.savevm;

import io.livemig.stream.MigrationOutput;

import java.util.List;

/**
 * QEMU's two loops: with {@code serial} the pass ends at the first device that is not finished
 * (before 9.0); without, every device gets a turn (9.0+). Both check the window's budget before
 * each device and end the pass when it is spent.
 */
final class QemuScheduler implements PassScheduler {

    private final boolean serial;

    QemuScheduler(boolean serial) {
        this.serial = serial;
    }

    @Override
    public int runPass(List<SaveStateEntry> entries, MigrationOutput out, RateLimiter rate, SectionWriter writer) {
        boolean allFinished = true;
        for (SaveStateEntry e : entries) {
            if (!e.handler().isActiveIterate()) {
                continue;
            }
            if (rate.exceeded()) {
                return 0;
            }
            int r = writer.part(e, out, rate);
            if (r < 0) {
                return r;
            }
            if (r == SaveStateHandler.ITERATE_MORE) {
                allFinished = false;
                if (serial) {
                    return 0;
                }
            }
        }
        return allFinished ? 1 : 0;
    }
}
