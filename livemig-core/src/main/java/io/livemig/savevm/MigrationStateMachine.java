package io.livemig.savevm;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The migration status with compare-and-set transitions (QEMU's {@code migrate_set_state}): a
 * move happens only if the status still equals the expected one and the table in
 * {@link MigrationStatus} allows it. Racing threads (the migration thread finishing, a QMP
 * {@code migrate_cancel}) therefore agree on exactly one outcome. Each successful move is
 * reported to the listener (the {@code MIGRATION} event).
 */
public final class MigrationStateMachine {

    private final AtomicReference<MigrationStatus> status = new AtomicReference<>(MigrationStatus.NONE);
    private final Consumer<MigrationStatus> listener;

    public MigrationStateMachine(Consumer<MigrationStatus> listener) {
        this.listener = listener;
    }

    public MigrationStatus status() {
        return status.get();
    }

    /** Moves {@code from → to} if the status is {@code from}; returns whether it moved. */
    public boolean transition(MigrationStatus from, MigrationStatus to) {
        if (!from.canMoveTo(to)) {
            throw new IllegalStateException("migration status cannot move from " + from.qapiName() + " to " + to.qapiName());
        }
        if (status.compareAndSet(from, to)) {
            listener.accept(to);
            return true;
        }
        return false;
    }

    /** Moves to {@code to} from whatever running status it is in; returns the status it left, or null. */
    public MigrationStatus transitionFromAny(MigrationStatus to) {
        while (true) {
            MigrationStatus cur = status.get();
            if (!cur.canMoveTo(to)) {
                return null;
            }
            if (status.compareAndSet(cur, to)) {
                listener.accept(to);
                return cur;
            }
        }
    }
}
