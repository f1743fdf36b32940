package io.livemig.devices.ram;

import io.livemig.guest.GuestMemory;
import io.livemig.multifd.MultifdLink;
import io.livemig.multifd.MultifdRecvGroup;
import io.livemig.savevm.Capability;
import io.livemig.savevm.MigrationCapabilities;
import io.livemig.savevm.LoadContext;
import io.livemig.savevm.MigrationEvents;
import io.livemig.savevm.MigrationParameters;
import io.livemig.savevm.MigrationStats;
import io.livemig.savevm.RateLimit;
import io.livemig.savevm.SaveStateHandler;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;

import java.io.IOException;
import java.util.function.BooleanSupplier;

/**
 * Section {@code ram} (instance 0, version 4): the guest's RAM blocks as an iterative device.
 * The saver exists from setup to cleanup; the loader lives as long as the device, because the
 * CONTINUE state spans sections.
 */
public final class RamDevice implements SaveStateHandler {

    private final GuestMemory memory;
    private final MigrationStats stats;
    private final MigrationEvents events;
    private final BooleanSupplier guestRunning;
    private final MigrationCapabilities caps;
    private final MigrationParameters params;
    private RamSaver saver;
    private RamLoader loader;
    /** null: no multifd for this guest */
    private final MultifdLink multifd;
    private MultifdRecvGroup receiving;

    /** {@code caps} and {@code params} are read at each migration's setup (capability {@code xbzrle}, {@code xbzrle-cache-size}). */
    public RamDevice(GuestMemory memory, MigrationStats stats, MigrationEvents events, BooleanSupplier guestRunning,
                     MigrationCapabilities caps, MigrationParameters params) {
        this(memory, stats, events, guestRunning, caps, params, null);
    }

    /** {@code multifd}: where the migration core leaves the multifd channels it opened or accepted. */
    public RamDevice(GuestMemory memory, MigrationStats stats, MigrationEvents events, BooleanSupplier guestRunning,
                     MigrationCapabilities caps, MigrationParameters params, MultifdLink multifd) {
        this.multifd = multifd;
        this.memory = memory;
        this.caps = caps;
        this.params = params;
        this.stats = stats;
        this.events = events;
        this.guestRunning = guestRunning;
    }

    @Override
    public boolean isIterative() {
        return true;
    }

    @Override
    public void saveSetup(MigrationOutput out) {
        saver = new RamSaver(memory, stats, events, caps.has(Capability.XBZRLE) ? params.xbzrleCacheSize() : 0,
                multifd != null && caps.has(Capability.MULTIFD) ? multifd.send() : null);
        saver.setup(out, guestRunning.getAsBoolean());
    }

    @Override
    public int saveIterate(MigrationOutput out, RateLimit limit) {
        return saver.iterate(out, limit, guestRunning.getAsBoolean());
    }

    @Override
    public void saveComplete(MigrationOutput out) {
        saver.complete(out);
    }

    @Override
    public long pendingEstimate(long thresholdBytes) {
        return saver == null ? 0 : saver.pendingBytes();
    }

    @Override
    public long pendingExact(long thresholdBytes) {
        if (saver == null) {
            return 0;
        }
        saver.sync();
        return saver.pendingBytes();
    }

    @Override
    public void saveCleanup() {
        if (saver != null) {
            saver.cleanup();
        }
        saver = null;
    }

    @Override
    public void loadSetup(LoadContext ctx) {
        receiving = multifd == null ? null : multifd.startReceiving(memory);
        loader = new RamLoader(memory, receiving);
    }

    @Override
    public void loadState(MigrationInput in, int versionId, int sectionType) throws IOException {
        if (loader == null) {
            loader = new RamLoader(memory);
        }
        loader.load(in, versionId, sectionType);
    }

    @Override
    public void loadCleanup() {
        if (receiving != null) {
            receiving.close();
            receiving = null;
        }
        loader = null;
    }
}
