package io.livemig.devices.block;

import io.livemig.savevm.Capability;
import io.livemig.savevm.LoadContext;
import io.livemig.savevm.MigrationCapabilities;
import io.livemig.savevm.RateLimit;
import io.livemig.savevm.SaveStateHandler;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Section {@code block} (instance 0, version 1): QEMU 7.2's block migration of every
 * {@code -drive} image. Registered always, so section ids stay QEMU's; active only with the
 * {@code block} capability (QEMU's {@code block_is_active}), which QEMU sets on the source only:
 * the destination loads whatever block sections arrive, active or not.
 *
 * <p>The saver lives from setup to cleanup; the loader from the first section to load cleanup.
 */
public final class BlockDevice implements SaveStateHandler {

    private final List<DriveImage> drives;
    private final Map<String, DriveImage> byId = new LinkedHashMap<>();
    private final MigrationCapabilities caps;
    private volatile BlockSaver saver;
    private BlockLoader loader;

    public BlockDevice(List<DriveImage> drives, MigrationCapabilities caps) {
        this.drives = List.copyOf(drives);
        for (DriveImage d : drives) {
            byId.put(d.id(), d);
        }
        this.caps = caps;
    }

    @Override
    public boolean isIterative() {
        return true;
    }

    @Override
    public boolean isActive() {
        return caps.has(Capability.BLOCK);
    }

    @Override
    public void saveSetup(MigrationOutput out) {
        BlockSaver s = new BlockSaver(drives);
        s.setup(out);
        saver = s;
    }

    @Override
    public int saveIterate(MigrationOutput out, RateLimit limit) {
        return saver.iterate(out, limit);
    }

    @Override
    public void saveComplete(MigrationOutput out) {
        saver.complete(out);
    }

    @Override
    public long pendingEstimate(long thresholdBytes) {
        BlockSaver s = saver;
        return s == null ? 0 : s.pending(thresholdBytes);
    }

    @Override
    public long pendingExact(long thresholdBytes) {
        BlockSaver s = saver;
        if (s == null) {
            return 0;
        }
        s.sync();
        return s.pending(thresholdBytes);
    }

    @Override
    public void saveCleanup() {
        saver = null;
    }

    @Override
    public void loadSetup(LoadContext ctx) {
        loader = new BlockLoader(byId);
    }

    @Override
    public void loadState(MigrationInput in, int versionId, int sectionType) throws IOException {
        if (loader == null) {
            loader = new BlockLoader(byId);
        }
        loader.load(in, versionId);
    }

    @Override
    public void loadCleanup() {
        loader = null;
    }
}
