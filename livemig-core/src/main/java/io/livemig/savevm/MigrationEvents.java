package io.livemig.savevm;

/** What the engine tells the guest's control layer, beside status changes (which the state machine reports). */
public interface MigrationEvents {

    /** A dirty-log sync happened; {@code pass} is the dirty-sync count (QMP {@code MIGRATION_PASS}). */
    void migrationPass(long pass);

    /** The migration thread has ended, whatever the outcome; a new migration may start. */
    default void migrationFinished() {
    }
}
