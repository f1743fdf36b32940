package io.livemig.devices.vfio;

import io.livemig.savevm.Capability;
import io.livemig.savevm.LoadContext;
import io.livemig.savevm.RateLimit;
import io.livemig.savevm.SaveStateHandler;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.SectionType;
import io.livemig.stream.StreamException;

import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

import static io.livemig.devices.vfio.VfioStreamDescriptor.CONFIG_SIZE;
import static io.livemig.devices.vfio.VfioStreamDescriptor.DATA_BUFFER_SIZE;
import static io.livemig.devices.vfio.VfioStreamDescriptor.DEV_CONFIG_STATE;
import static io.livemig.devices.vfio.VfioStreamDescriptor.DEV_DATA_STATE;
import static io.livemig.devices.vfio.VfioStreamDescriptor.DEV_INIT_DATA_SENT;
import static io.livemig.devices.vfio.VfioStreamDescriptor.DEV_SETUP_STATE;
import static io.livemig.devices.vfio.VfioStreamDescriptor.END_OF_STATE;

/**
 * {@code -device vfio-sim}: a simulated VFIO device with migration v2, handled as QEMU's
 * {@code hw/vfio/migration.c} handles a real one (section {@code ID/vfio}, instance 0, version 1;
 * payloads in {@link VfioStreamDescriptor}).
 *
 * <p>The model. The device's migration state is a byte stream it produces (the kernel's
 * {@code data_fd}); the bytes are {@link VfioDataContent} of the seed, by stream position. At
 * save setup the device enters PRE_COPY (precopy=on) with {@code initial-bytes} of mandatory
 * initial data ({@code precopy_init_size}); while the guest runs, new "dirty" data accrues at
 * {@code dirty-rate} bytes per second of guest run time ({@code precopy_dirty_size}), computed
 * lazily from the guest clock. At stop-copy the device owes {@code stop-copy-bytes} more plus
 * whatever initial and dirty data is still unsent: that sum is its {@code stop_copy_length}.
 * With precopy=off the device never iterates, needs no switchover ack, and everything moves at
 * stop-copy. The FULL section carries a seeded 256-byte "PCI config".
 *
 * <p>Proof of transfer: each side keeps a running SHA-256 over every data byte in stream order
 * (source: produced and sent; destination: received) and then the config blob, exposed as the
 * QOM property {@code x-state-digest}: equal digests mean the destination's device state is the
 * source's at switchover.
 *
 * <p>Threading: the save hooks run on the migration thread, the load hooks on the incoming
 * thread; these own the counters. QMP threads read only the volatile figures and the digest,
 * which is guarded by {@code this} (one update per 1 MiB chunk, so the lock is cheap).
 */
public final class VfioSimDevice implements SaveStateHandler {

    /** The device states livemig models, named as the kernel's {@code enum vfio_device_mig_state}. */
    public enum MigState { RUNNING, PRE_COPY, STOP_COPY, STOP, RESUMING }

    private final String id;
    private final VfioSimProperties props;
    private final LongSupplier guestNanos;
    private final BooleanSupplier sourceSwitchoverAck;
    private final VfioDataContent content;
    private final byte[] config = new byte[CONFIG_SIZE];
    private final MessageDigest digest;
    private byte[] buffer;

    private volatile MigState state = MigState.RUNNING;
    // source, migration thread only
    private boolean saving;
    private long guestNanosAtSetup;
    private long initRemaining;
    private long dirtyGenerated;
    private long dirtySent;
    private boolean initialDataSent;
    private volatile long bytesProduced;
    // destination, incoming thread only
    private LoadContext ctx;
    private volatile long bytesLoaded;

    /**
     * @param id                  the device's qdev id
     * @param guestNanos          the guest clock: advances only while the guest runs
     * @param sourceSwitchoverAck whether this (source) guest has the switchover-ack capability
     */
    public VfioSimDevice(String id, VfioSimProperties props, LongSupplier guestNanos, BooleanSupplier sourceSwitchoverAck) {
        this.id = id;
        this.props = props;
        this.guestNanos = guestNanos;
        this.sourceSwitchoverAck = sourceSwitchoverAck;
        this.content = new VfioDataContent(props.seed());
        new VfioDataContent(~props.seed()).fill(config, 0, CONFIG_SIZE, 0);
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JDK", e);
        }
    }

    public String id() {
        return id;
    }

    public VfioSimProperties properties() {
        return props;
    }

    public MigState state() {
        return state;
    }

    /** Hex SHA-256 of the data bytes and config this device has sent (source) or loaded (destination). */
    public synchronized String stateDigest() {
        try {
            return HexFormat.of().formatHex(((MessageDigest) digest.clone()).digest());
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("SHA-256 digest cannot be cloned", e);
        }
    }

    public long bytesProduced() {
        return bytesProduced;
    }

    public long bytesLoaded() {
        return bytesLoaded;
    }

    /** The QOM property {@code name} (qom-get), or empty when the device has none of that name. */
    public Optional<Object> qomProperty(String name) {
        return Optional.ofNullable(switch (name) {
            case "x-state-digest" -> stateDigest();
            case "x-bytes-produced" -> bytesProduced;
            case "x-bytes-loaded" -> bytesLoaded;
            case "x-migration-state" -> state.name().toLowerCase(Locale.ROOT).replace('_', '-');
            case "initial-bytes" -> props.initialBytes();
            case "dirty-rate" -> props.dirtyRate();
            case "stop-copy-bytes" -> props.stopCopyBytes();
            case "precopy" -> props.precopy();
            case "seed" -> props.seed();
            default -> null;
        });
    }

    private byte[] buffer() {
        if (buffer == null) {
            buffer = new byte[DATA_BUFFER_SIZE];
        }
        return buffer;
    }

    // ---------------------------------------------------------------- source

    @Override
    public boolean isIterative() {
        return true;
    }

    /** QEMU's {@code vfio_is_active_iterate}: only in PRE_COPY. */
    @Override
    public boolean isActiveIterate() {
        return state == MigState.PRE_COPY;
    }

    /** {@code vfio_save_setup}: enter PRE_COPY (precopy=on) with the initial data owed. */
    @Override
    public void saveSetup(MigrationOutput out) {
        synchronized (this) {
            digest.reset();
        }
        guestNanosAtSetup = guestNanos.getAsLong();
        initRemaining = props.initialBytes();
        dirtyGenerated = 0;
        dirtySent = 0;
        initialDataSent = false;
        bytesProduced = 0;
        saving = true;
        state = props.precopy() ? MigState.PRE_COPY : MigState.RUNNING;
        out.putBe64(DEV_SETUP_STATE);
        out.putBe64(END_OF_STATE);
    }

    /** New dirty data since setup: {@code dirty-rate} × guest run time (the guest clock stops with the guest). */
    private long dirtyPending() {
        if (saving && props.dirtyRate() > 0) {
            long ran = Math.max(0, guestNanos.getAsLong() - guestNanosAtSetup);
            dirtyGenerated = Math.max(dirtyGenerated, (long) (ran / 1e9 * props.dirtyRate()));
        }
        return dirtyGenerated - dirtySent;
    }

    /**
     * {@code vfio_save_iterate}: reads at most one buffer (initial data first, then dirty), ends
     * the payload with INIT_DATA_SENT once the initial data is all sent under switchover-ack.
     *
     * <p>It does not check {@code limit}, as QEMU's does not: one call moves at most
     * {@link VfioStreamDescriptor#DATA_BUFFER_SIZE} (1 MiB) and the core checks the rate limit
     * before each device. A larger buffer would need a check here.
     */
    @Override
    public int saveIterate(MigrationOutput out, RateLimit limit) {
        long avail = initRemaining + dirtyPending();
        int n = (int) Math.min(DATA_BUFFER_SIZE, avail);
        if (n > 0) {
            writeData(out, n);
            long fromInit = Math.min(n, initRemaining);
            initRemaining -= fromInit;
            dirtySent += n - fromInit;
        }
        if (sourceSwitchoverAck.getAsBoolean() && !initialDataSent && initRemaining == 0) {
            out.putBe64(DEV_INIT_DATA_SENT);
            initialDataSent = true;
        } else {
            out.putBe64(END_OF_STATE);
        }
        return initRemaining == 0 && dirtyPending() == 0 ? ITERATE_FINISHED : ITERATE_MORE;
    }

    /** {@code vfio_save_complete_precopy}: STOP_COPY, all that is owed in ≤ 1 MiB chunks, END_OF_STATE. */
    @Override
    public void saveComplete(MigrationOutput out) {
        state = MigState.STOP_COPY;
        long left = initRemaining + dirtyPending() + props.stopCopyBytes();
        while (left > 0) {
            int n = (int) Math.min(DATA_BUFFER_SIZE, left);
            writeData(out, n);
            left -= n;
        }
        initRemaining = 0;
        dirtySent = dirtyGenerated;
        saving = false;
        out.putBe64(END_OF_STATE);
    }

    private void writeData(MigrationOutput out, int n) {
        byte[] b = buffer();
        content.fill(b, 0, n, bytesProduced);
        synchronized (this) {
            digest.update(b, 0, n);
        }
        out.putBe64(DEV_DATA_STATE);
        out.putBe64(n);
        out.putBytes(b, 0, n);
        bytesProduced += n;
    }

    @Override
    public boolean hasState() {
        return true;
    }

    /** {@code vfio_save_state}: the config space, old-style (the vmdesc records its size only). */
    @Override
    public void saveState(MigrationOutput out) {
        synchronized (this) {
            digest.update(config);
        }
        out.putBe64(DEV_CONFIG_STATE);
        out.putBytes(config);
        out.putBe64(END_OF_STATE);
    }

    /** {@code vfio_state_pending_estimate}: initial + dirty, only in PRE_COPY. */
    @Override
    public long pendingEstimate(long thresholdBytes) {
        return state == MigState.PRE_COPY ? initRemaining + dirtyPending() : 0;
    }

    /**
     * {@code vfio_state_pending_exact}: the stop-copy length, i.e. everything that must move with
     * the guest stopped if it switched over now: unsent initial and dirty data plus
     * {@code stop-copy-bytes}. This is what keeps a device whose stop-copy data cannot fit in the
     * downtime limit from letting the migration converge.
     */
    @Override
    public long pendingExact(long thresholdBytes) {
        return saving ? initRemaining + dirtyPending() + props.stopCopyBytes() : 0;
    }

    /** {@code vfio_save_cleanup}: STOP_COPY → STOP after a switchover, back to RUNNING after a failure. */
    @Override
    public void saveCleanup() {
        state = state == MigState.STOP_COPY ? MigState.STOP : MigState.RUNNING;
        saving = false;
    }

    // ----------------------------------------------------------- destination

    /** {@code vfio_load_setup}: RESUMING. */
    @Override
    public void loadSetup(LoadContext context) {
        this.ctx = context;
        synchronized (this) {
            digest.reset();
        }
        bytesLoaded = 0;
        state = MigState.RESUMING;
    }

    /** QEMU's {@code vfio_switchover_ack_needed}: iff the device supports PRE_COPY. */
    @Override
    public boolean switchoverAckNeeded() {
        return props.precopy();
    }

    /** {@code vfio_load_state}: the marker loop. */
    @Override
    public void loadState(MigrationInput in, int versionId, int sectionType) throws IOException {
        if (state != MigState.RESUMING) {
            throw error("section " + SectionType.name(sectionType) + " before load setup");
        }
        long marker = in.getBe64();
        while (marker != END_OF_STATE) {
            if (marker == DEV_CONFIG_STATE) {
                in.getBytes(buffer(), 0, CONFIG_SIZE);
                synchronized (this) {
                    digest.update(buffer, 0, CONFIG_SIZE);
                }
                expectEnd(in, "DEV_CONFIG_STATE");
                return;
            } else if (marker == DEV_SETUP_STATE) {
                expectEnd(in, "DEV_SETUP_STATE");
                return;
            } else if (marker == DEV_DATA_STATE) {
                loadData(in);
            } else if (marker == DEV_INIT_DATA_SENT) {
                if (!props.precopy() || ctx == null || !ctx.has(Capability.SWITCHOVER_ACK)) {
                    throw error("DEV_INIT_DATA_SENT received, but "
                            + (props.precopy() ? "switchover-ack is off on the destination" : "the device has precopy=off"));
                }
                ctx.approveSwitchover();
                return; // as in QEMU, INIT_DATA_SENT ends the payload
            } else {
                throw error("unknown marker 0x" + Long.toHexString(marker));
            }
            marker = in.getBe64();
        }
    }

    private void loadData(MigrationInput in) throws IOException {
        long size = in.getBe64();
        if (size < 0 || size > DATA_BUFFER_SIZE) {
            throw error("DEV_DATA_STATE size " + Long.toUnsignedString(size) + " exceeds the " + DATA_BUFFER_SIZE
                    + "-byte buffer");
        }
        int n = (int) size;
        byte[] b = buffer();
        in.getBytes(b, 0, n);
        synchronized (this) {
            digest.update(b, 0, n);
        }
        bytesLoaded += n;
    }

    private void expectEnd(MigrationInput in, String after) throws IOException {
        long m = in.getBe64();
        if (m != END_OF_STATE) {
            throw error("expected END_OF_STATE after " + after + ", got " + VfioStreamDescriptor.name(m));
        }
    }

    private StreamException error(String what) {
        return new StreamException(VfioSimProperties.DRIVER + " '" + id + "': " + what);
    }

    @Override
    public void loadCleanup() {
        if (state == MigState.RESUMING) {
            state = MigState.STOP;
        }
        ctx = null;
    }
}
