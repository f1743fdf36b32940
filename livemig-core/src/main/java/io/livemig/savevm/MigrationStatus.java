package io.livemig.savevm;

import java.util.EnumSet;
import java.util.Set;

/**
 * QEMU's {@code MigrationStatus} values that livemig reaches, with their QMP names and the
 * transitions allowed between them. This table is the one place that says which moves are legal.
 *
 * <pre>
 *  source:       none → setup → active → device → completed
 *                setup|active|device → failed
 *                setup|active|device → cancelling → cancelled
 *  destination:  none → setup → active → completed | failed
 *  a finished state (completed, failed, cancelled) → setup starts the next migration
 * </pre>
 */
public enum MigrationStatus {
    NONE("none"),
    SETUP("setup"),
    ACTIVE("active"),
    DEVICE("device"),
    CANCELLING("cancelling"),
    CANCELLED("cancelled"),
    COMPLETED("completed"),
    FAILED("failed");

    private final String qapiName;

    MigrationStatus(String qapiName) {
        this.qapiName = qapiName;
    }

    public String qapiName() {
        return qapiName;
    }

    /** Whether a migration is in flight (QEMU's {@code migration_is_running}). */
    public boolean isRunning() {
        return this == SETUP || this == ACTIVE || this == DEVICE || this == CANCELLING;
    }

    public boolean isFinished() {
        return this == COMPLETED || this == FAILED || this == CANCELLED;
    }

    public Set<MigrationStatus> successors() {
        return switch (this) {
            case NONE, COMPLETED, FAILED, CANCELLED -> EnumSet.of(SETUP);
            case SETUP -> EnumSet.of(ACTIVE, FAILED, CANCELLING);
            case ACTIVE -> EnumSet.of(DEVICE, COMPLETED, FAILED, CANCELLING);
            case DEVICE -> EnumSet.of(COMPLETED, FAILED, CANCELLING);
            case CANCELLING -> EnumSet.of(CANCELLED);
        };
    }

    public boolean canMoveTo(MigrationStatus next) {
        return successors().contains(next);
    }
}
