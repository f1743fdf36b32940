package io.livemig.savevm;

import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.VmdescWriter;

import java.io.IOException;
import java.util.List;

/**
 * The device contract, QEMU's {@code SaveVMHandlers}: what a device does at each phase of a
 * migration, on the source and on the destination.
 *
 * <p>An <em>iterative</em> device ({@link #isIterative()}) takes part in pre-copy: a START section
 * from {@link #saveSetup}, a PART section per pass from {@link #saveIterate}, an END section from
 * {@link #saveComplete} at switchover. Every device may also write one FULL section of
 * non-iterable state from {@link #saveState} after the END sections. On the destination every
 * section, whatever its type, goes to {@link #loadState}, which must consume exactly the bytes
 * the source's handler wrote: sections carry no length.
 *
 * <p>Threading: the source hooks run on the migration thread; the pending hooks too. The load
 * hooks run on the incoming migration thread.
 */
public interface SaveStateHandler {

    /** {@link #saveIterate}: more data is pending. */
    int ITERATE_MORE = 0;
    /** {@link #saveIterate}: nothing more to send now. */
    int ITERATE_FINISHED = 1;

    /** Whether this device has setup/iterate/complete hooks (a START section and PART sections). */
    boolean isIterative();

    /** Whether the device takes part in this migration at all (gates setup, complete, pending). */
    default boolean isActive() {
        return true;
    }

    /** Whether {@link #saveIterate} should be called in this pass. */
    default boolean isActiveIterate() {
        return true;
    }

    // ---- source ----

    /** Writes the payload of the START section. */
    default void saveSetup(MigrationOutput out) throws MigrationException {
    }

    /**
     * Writes the payload of one PART section: as much as the budget allows. The device checks
     * {@code limit.exceeded()} itself and returns promptly when it is.
     *
     * @return {@link #ITERATE_MORE}, {@link #ITERATE_FINISHED}, or a negative value on error
     */
    default int saveIterate(MigrationOutput out, RateLimit limit) {
        return ITERATE_FINISHED;
    }

    /** Writes the payload of the END section: everything left, with the guest stopped. */
    default void saveComplete(MigrationOutput out) throws MigrationException {
    }

    /** Whether this device writes a FULL section of non-iterable state. */
    default boolean hasState() {
        return false;
    }

    /** Writes the FULL section payload; {@link #vmdescFields()} describes it. */
    default void saveState(MigrationOutput out) throws MigrationException {
    }

    /**
     * The vmsd name used in the vmdesc JSON for the FULL section; empty for an old-style
     * ({@code save_state}) section, which the vmdesc describes as one {@code data} buffer.
     */
    default String vmsdName() {
        return "";
    }

    /** The fields of the FULL section, as the vmdesc JSON lists them (vmsd-style sections only). */
    default List<VmdescWriter.Field> vmdescFields() {
        return List.of();
    }

    /**
     * Cheap pending estimate in bytes (no sync); called every pass.
     *
     * @param thresholdBytes the current convergence threshold (QEMU 7.2's {@code max_size}); a
     *                       device that must not let the migration converge yet (block migration in
     *                       its bulk phase) reports more than this
     */
    default long pendingEstimate(long thresholdBytes) {
        return 0;
    }

    /** Exact pending bytes (may sync dirty logs); called when the estimate is under the threshold. */
    default long pendingExact(long thresholdBytes) {
        return pendingEstimate(thresholdBytes);
    }

    /** Releases what setup took; may be called without a prior setup. */
    default void saveCleanup() {
    }

    // ---- destination ----

    /** Prepares to load; {@code ctx} stays valid until {@link #loadCleanup()}. */
    default void loadSetup(LoadContext ctx) throws MigrationException {
    }

    /**
     * Whether the destination must wait for this device's initial data before it acknowledges
     * switchover (QEMU's {@code switchover_ack_needed}); asked right after load setup when the
     * {@code switchover-ack} capability is on. Such a device calls
     * {@link LoadContext#approveSwitchover()} once its initial data has loaded.
     */
    default boolean switchoverAckNeeded() {
        return false;
    }

    /**
     * Loads one section's payload.
     *
     * @param sectionType {@code SectionType.SECTION_START/PART/END/FULL}
     */
    void loadState(MigrationInput in, int versionId, int sectionType) throws IOException;

    default void loadCleanup() {
    }
}
