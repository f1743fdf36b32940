package io.livemig.vm;

import io.livemig.channel.MigrationUri;
import io.livemig.devices.block.BlockDevice;
import io.livemig.devices.block.BlockRecordDescriptor;
import io.livemig.devices.block.DriveImage;
import io.livemig.devices.machine.CpuTimers;
import io.livemig.devices.ram.RamDevice;
import io.livemig.devices.ram.RamRecordDescriptor;
import io.livemig.devices.vfio.VfioSimDevice;
import io.livemig.devices.vfio.VfioSimProperties;
import io.livemig.devices.vfio.VfioStreamDescriptor;
import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;
import io.livemig.guest.RunState;
import io.livemig.guest.RunStateGate;
import io.livemig.guest.Workload;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.Capability;
import io.livemig.savevm.DeviceCounters;
import io.livemig.savevm.GlobalState;
import io.livemig.savevm.HandlerRegistry;
import io.livemig.savevm.MigrationCapabilities;
import io.livemig.savevm.MigrationEvents;
import io.livemig.savevm.MigrationIncoming;
import io.livemig.savevm.MigrationParameters;
import io.livemig.savevm.MigrationSource;
import io.livemig.savevm.MigrationStateMachine;
import io.livemig.savevm.MigrationStats;
import io.livemig.savevm.MigrationStatus;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A livemig guest: memory, devices, vCPU workloads, run state, and the migration engine that can
 * move it. The QMP server and the CLI drive a guest only through this class.
 *
 * <p>Machine {@code none} registers, like QEMU 7.2: {@code timer} (section 0), a reserved id
 * (QEMU's {@code dirty-bitmap}), {@code ram} (2), {@code block} (3, active only with the
 * {@code block} capability), {@code globalstate} (4) — so its stream has QEMU's section set,
 * order and ids.
 *
 * <p>Each {@code -drive} is a {@link DriveImage}: a mapped file that is not guest RAM (the
 * {@code ram} section never sends it) and that workloads may target by its id.
 *
 * <p>Threading: command methods are synchronized on this object and never block on a migration
 * in flight (the migration runs on its own thread). Events are delivered on the thread that
 * caused them.
 */
public final class VirtualMachine implements AutoCloseable {

    public static final String MACHINE_NONE = "none";

    private final VmConfig config;
    private final List<VmEventListener> listeners = new CopyOnWriteArrayList<>();
    private final GuestMemory memory;
    private final List<DriveImage> drives;
    private final RunStateGate gate;
    private final HandlerRegistry registry = new HandlerRegistry();
    private final GlobalState globalState = new GlobalState();
    private final CpuTimers timers = new CpuTimers();
    private final MigrationParameters params = new MigrationParameters();
    /** the multifd channels of the current migration, between the migration core and the RAM device */
    private final io.livemig.multifd.MultifdLink multifd = new io.livemig.multifd.MultifdLink(params);
    private final MigrationCapabilities caps = new MigrationCapabilities();
    private final MigrationStats stats = new MigrationStats();
    private final MigrationStateMachine outgoing;
    private final MigrationStateMachine incomingState;
    private final List<Workload> workloads = new ArrayList<>();
    private final MigrationEvents migrationEvents;
    /** {@code authz-simple} objects by id (QEMU's /objects), for the {@code tls-authz} parameter */
    private final Map<String, io.livemig.channel.AuthzSimple> authzObjects = new java.util.concurrent.ConcurrentHashMap<>();
    /** {@code -device} models by qdev id, in command-line order (QEMU's /machine/peripheral). */
    private final Map<String, VfioSimDevice> peripherals = new LinkedHashMap<>();

    private volatile boolean autostart;
    private volatile MigrationSource source;
    private volatile MigrationIncoming incoming;
    /** the run state before migrate-incoming re-armed this guest, restored if it is cancelled unconnected */
    private volatile RunState beforeIncoming;
    private volatile boolean closed;
    /** Whether query-migrate reports the incoming side: the latest migration was incoming. */
    private volatile boolean incomingCurrent;

    private VirtualMachine(VmConfig config, GuestMemory memory, List<DriveImage> drives) {
        this.config = config;
        this.memory = memory;
        this.drives = List.copyOf(drives);
        this.autostart = !config.startPaused();
        RunState initial = config.incoming().isPresent() ? RunState.INMIGRATE
                : config.startPaused() ? RunState.PRELAUNCH : RunState.RUNNING;
        this.gate = new RunStateGate(initial);
        this.outgoing = new MigrationStateMachine(this::migrationStatusEvent);
        this.incomingState = new MigrationStateMachine(this::migrationStatusEvent);
        this.migrationEvents = pass -> {
            if (caps.has(Capability.EVENTS)) {
                emit("MIGRATION_PASS", Map.of("pass", pass));
            }
        };
        timers.onRunState(initial);
        this.lastState = initial;
        gate.addListener(this::runStateChanged);
        registry.register(CpuTimers.IDSTR, CpuTimers.VERSION, timers);
        registry.reserveSectionId();
        registry.register(RamRecordDescriptor.IDSTR, RamRecordDescriptor.VERSION,
                new RamDevice(memory, stats, migrationEvents, () -> gate.state().isRunning(), caps, params, multifd));
        registry.register(BlockRecordDescriptor.IDSTR, BlockRecordDescriptor.INSTANCE_ID, BlockRecordDescriptor.VERSION,
                io.livemig.savevm.SaveStateEntry.PRIORITY_DEFAULT, new BlockDevice(this.drives, caps));
        registry.register(GlobalState.IDSTR, GlobalState.VERSION, globalState);
    }

    /**
     * Builds the guest described by {@code config}: allocates (or maps) its RAM, registers its
     * devices, starts its workloads (parked unless running) and, with {@code -incoming URI} other
     * than {@code defer}, starts listening for the incoming migration.
     */
    public static VirtualMachine start(VmConfig config) throws IOException {
        if (!MACHINE_NONE.equals(config.machine())) {
            throw new IllegalArgumentException("machine type '" + config.machine() + "' is not supported (only 'none')");
        }
        GuestMemory memory = new GuestMemory();
        // QEMU keeps RAM blocks sorted from the largest to the smallest; the stream lists them so
        List<VmConfig.MemoryBackend> backends = new ArrayList<>(config.backends());
        backends.sort(Comparator.comparingLong(VmConfig.MemoryBackend::size).reversed());
        try {
            for (VmConfig.MemoryBackend b : backends) {
                memory.add(b.memPath().isPresent()
                        ? RamBlock.mappedFile(b.id(), b.size(), b.memPath().get(), b.share(), b.prealloc())
                        : RamBlock.anonymous(b.id(), b.size(), b.prealloc()));
            }
        } catch (IOException | RuntimeException e) {
            memory.close();
            throw e;
        }
        List<DriveImage> drives = new ArrayList<>();
        try {
            for (VmConfig.DriveSpec d : config.drives()) {
                drives.add(DriveImage.open(d.id(), d.file()));
            }
        } catch (IOException | RuntimeException e) {
            drives.forEach(DriveImage::close);
            memory.close();
            throw e;
        }
        VirtualMachine vm = new VirtualMachine(config, memory, drives);
        try {
            vm.realizeDevices();
            for (WorkloadSpec w : config.workloads()) {
                RamBlock block = memory.find(w.target());
                if (block == null) {
                    block = drives.stream().filter(d -> d.id().equals(w.target())).map(DriveImage::block)
                            .findFirst().orElse(null);
                }
                if (block == null) {
                    throw new IllegalArgumentException("-workload target '" + w.target()
                            + "' names no memory backend or drive");
                }
                vm.workloads.add(Workload.start(w, block, vm.gate));
            }
            Optional<String> inc = config.incoming();
            if (inc.isPresent() && !"defer".equals(inc.get())) {
                vm.startIncoming(MigrationUri.parse(inc.get()));
            }
        } catch (IOException | RuntimeException e) {
            vm.close();
            throw e;
        }
        return vm;
    }

    /**
     * Registers each {@code -device} after the machine's own states, in command-line order: QEMU
     * registers VFIO's handlers at device realize, after timer, ram and globalstate.
     */
    private void realizeDevices() {
        for (VmConfig.DeviceSpec d : config.devices()) {
            if (!VfioSimProperties.DRIVER.equals(d.driver())) {
                throw new IllegalArgumentException("'" + d.driver() + "' is not a valid device model name");
            }
            VfioSimDevice dev = new VfioSimDevice(d.id(), VfioSimProperties.parse(d.id(), d.props()), timers::guestNanos,
                    () -> caps.has(Capability.SWITCHOVER_ACK));
            registry.register(VfioStreamDescriptor.idstr(d.id()), 0, VfioStreamDescriptor.VERSION,
                    io.livemig.savevm.SaveStateEntry.PRIORITY_DEFAULT, dev);
            peripherals.put(d.id(), dev);
        }
    }

    /**
     * QMP {@code qom-get}: a property of a {@code -device}, by its id or {@code /machine/peripheral/ID}.
     * Errors are QEMU 7.2's: {@code DeviceNotFound "Device 'X' not found"} and
     * {@code GenericError "Property 'vfio-sim.foo' not found"}.
     */
    public Object qomGet(String path, String property) throws VmCommandException {
        String id = path.startsWith(PERIPHERAL) ? path.substring(PERIPHERAL.length()) : path;
        VfioSimDevice dev = id.contains("/") ? null : peripherals.get(id);
        if (dev == null) {
            throw new VmCommandException(VmCommandException.DEVICE_NOT_FOUND, "Device '" + path + "' not found");
        }
        return dev.qomProperty(property).orElseThrow(() -> VmCommandException.generic(
                "Property '" + VfioSimProperties.DRIVER + "." + property + "' not found"));
    }

    private static final String PERIPHERAL = "/machine/peripheral/";

    public VmConfig config() {
        return config;
    }

    public GuestMemory memory() {
        return memory;
    }

    /** The {@code -drive} images, in command-line order. */
    public List<DriveImage> drives() {
        return drives;
    }

    /** {@code query-status}. */
    public RunState runState() {
        return gate.state();
    }

    /** QMP {@code stop}: pauses the vCPUs; during an incoming migration, only turns autostart off. */
    public synchronized void stop() {
        RunState s = gate.state();
        if (s == RunState.INMIGRATE) {
            autostart = false;
        } else if (s.isRunning()) {
            gate.compareAndSet(RunState.RUNNING, RunState.PAUSED);
        }
    }

    /** QMP {@code cont}; during an incoming migration it only asks for the guest to start when it completes. */
    public synchronized void cont() throws VmCommandException {
        RunState s = gate.state();
        switch (s) {
            case INMIGRATE -> autostart = true;
            case SHUTDOWN -> throw VmCommandException.generic("Resetting the Virtual Machine is required");
            case FINISH_MIGRATE -> throw VmCommandException.generic("Migration is not finished yet: the guest is switching over");
            case RUNNING -> {
            }
            default -> gate.compareAndSet(s, RunState.RUNNING);
        }
    }

    /** QMP {@code migrate}: starts an outgoing migration to {@code uri} and returns at once. */
    public synchronized void migrate(String uri) throws VmCommandException {
        if (outgoing.status().isRunning() || incomingState.status().isRunning()) {
            throw VmCommandException.generic("There's a migration process in progress");
        }
        if (gate.state() == RunState.INMIGRATE) {
            throw VmCommandException.generic("Guest is waiting for an incoming migration");
        }
        MigrationUri target = parseUri(uri);
        if (target instanceof MigrationUri.Defer) {
            throw VmCommandException.generic("Parameter 'uri' expects a valid migration protocol");
        }
        stats.reset(System.currentTimeMillis());
        if (!outgoing.transition(outgoing.status(), MigrationStatus.SETUP)) {
            throw VmCommandException.generic("There's a migration process in progress");
        }
        incomingCurrent = false;
        MigrationSource src = new MigrationSource(new MigrationSource.Setup(registry, gate, globalState, config.machine(),
                config.uuid(), params, caps, params.iteratePolicy(), stats, outgoing, migrationEvents, multifd), target);
        source = src;
        src.start();
    }

    /**
     * QMP {@code migrate-incoming}. QEMU accepts it only after {@code -incoming defer}; livemig also
     * accepts it on a guest that is not running and has no migration in flight — {@code postmigrate}
     * (it was a source), {@code paused}, {@code prelaunch}, or {@code inmigrate} after a failed
     * incoming migration — so a guest can migrate back and forth, and a failed destination can be
     * armed again. The guest moves to {@code inmigrate} and its incoming state starts afresh.
     */
    public synchronized void migrateIncoming(String uri) throws VmCommandException {
        if (incomingState.status().isRunning()) {
            throw VmCommandException.generic("The incoming migration has already been started");
        }
        if (outgoing.status().isRunning()) {
            throw VmCommandException.generic("There's a migration process in progress");
        }
        RunState now = gate.state();
        boolean deferred = config.incoming().isPresent() && incomingState.status() == MigrationStatus.NONE;
        boolean rearm = switch (now) {
            case POSTMIGRATE, PAUSED, PRELAUNCH -> true;
            case INMIGRATE -> incomingState.status() == MigrationStatus.FAILED;
            default -> false;
        };
        if (!deferred && !rearm) {
            if (config.incoming().isEmpty() && now.isRunning()) {
                throw VmCommandException.generic("'-incoming' was not specified on the command line, and the guest is"
                        + " running (livemig accepts migrate-incoming on a guest that is paused, postmigrate, prelaunch"
                        + " or whose incoming migration failed)");
            }
            throw VmCommandException.generic("migrate-incoming is not possible while the guest is '" + now.qapiName()
                    + "' (it must be paused, postmigrate, prelaunch or after a failed incoming migration)");
        }
        MigrationUri target = parseUri(uri);
        if (target instanceof MigrationUri.Defer) {
            throw VmCommandException.generic("Parameter 'uri' expects a valid migration protocol");
        }
        // a fresh incoming state: the guest waits for the stream, nothing of a previous load remains
        beforeIncoming = now == RunState.INMIGRATE ? null : now;
        gate.set(RunState.INMIGRATE);
        globalState.resetReceived();
        try {
            startIncoming(target);
        } catch (IOException e) {
            gate.set(now);
            throw VmCommandException.generic("Failed to listen on " + target + ": " + e.getMessage());
        }
    }

    private void startIncoming(MigrationUri uri) throws IOException {
        MigrationStatus from = incomingState.status();
        if (!incomingState.transition(from, MigrationStatus.SETUP)) {
            throw new IllegalStateException("incoming migration status changed meanwhile: " + incomingState.status());
        }
        incomingCurrent = true;
        try {
            incoming = MigrationIncoming.listen(new MigrationIncoming.Setup(registry, gate, globalState, config.machine(),
                    () -> autostart, caps, params, stats, incomingState, migrationEvents, multifd, config.uuid(),
                    authzObjects::get), uri);
        } catch (IOException | RuntimeException e) {
            incomingState.transitionFromAny(MigrationStatus.FAILED);
            throw e;
        }
    }

    /** The address the incoming migration listens on, once started (e.g. the real port of {@code tcp:…:0}). */
    public Optional<MigrationUri> incomingAddress() {
        MigrationIncoming mi = incoming;
        return mi == null ? Optional.empty() : Optional.of(mi.address());
    }

    private static MigrationUri parseUri(String uri) throws VmCommandException {
        String scheme = uri.contains(":") ? uri.substring(0, uri.indexOf(':')) : uri;
        if (!List.of("tcp", "unix", "file", "exec", "defer").contains(scheme)) {
            throw VmCommandException.generic("Parameter 'uri' expects a valid migration protocol");
        }
        try {
            return MigrationUri.parse(uri);
        } catch (IllegalArgumentException e) {
            throw VmCommandException.generic(e.getMessage());
        }
    }

    /** QMP {@code migrate_cancel} / {@code migrate-cancel}: a no-op when nothing runs. */
    public void migrateCancel() {
        MigrationSource src = source;
        if (src != null) {
            src.cancel();
        }
        MigrationIncoming mi = incoming;
        if (mi != null && incomingCurrent && incomingState.status() == MigrationStatus.SETUP && mi.cancelIfNotConnected()) {
            // still listening: nothing was loaded, so the guest returns to what it was before
            // migrate-incoming (a guest started with -incoming stays inmigrate); livemig's
            // extension, QEMU 7.2's migrate_cancel ignores the incoming side
            joinQuietly(mi::join);
            RunState before = beforeIncoming;
            if (before != null) {
                gate.compareAndSet(RunState.INMIGRATE, before);
            }
        }
    }

    /** QMP {@code query-migrate}: the JSON object QEMU returns, as nested maps. */
    public Map<String, Object> queryMigrate() {
        MigrationStatus st = outgoing.status();
        Map<String, Object> m = new LinkedHashMap<>();
        if (st == MigrationStatus.NONE || incomingCurrent) {
            MigrationStatus in = incomingState.status();
            MigrationIncoming mi = incoming;
            if (mi != null) {
                socketAddress(mi.address()).ifPresent(a -> m.put("socket-address", List.of(a)));
            }
            if (in != MigrationStatus.NONE) {
                m.put("status", in.qapiName());
                if (in == MigrationStatus.FAILED && mi != null && mi.errorDesc() != null) {
                    m.put("error-desc", mi.errorDesc());
                }
            }
            return m;
        }
        m.put("status", st.qapiName());
        switch (st) {
            case SETUP, CANCELLED -> {
            }
            case FAILED -> {
                MigrationSource src = source;
                if (src != null && src.errorDesc() != null) {
                    m.put("error-desc", src.errorDesc());
                }
            }
            default -> {
                m.put("setup-time", stats.setupTimeMs);
                if (st == MigrationStatus.COMPLETED) {
                    m.put("downtime", stats.downtimeMs);
                    m.put("total-time", stats.totalTimeMs);
                } else {
                    m.put("expected-downtime", stats.expectedDowntimeMs);
                    m.put("total-time", System.currentTimeMillis() - stats.startTimeMs);
                }
                m.put("ram", ramInfo());
                if (caps.has(Capability.XBZRLE)) {
                    m.put("xbzrle-cache", xbzrleInfo());
                }
            }
        }
        if (st != MigrationStatus.SETUP && st != MigrationStatus.FAILED && st != MigrationStatus.CANCELLED) {
            m.put("x-devices", stats.devices.stream().map(DeviceCounters::toQmp).toList());
        }
        if (caps.has(Capability.SWITCHOVER_ACK)) {
            MigrationSource src = source;
            m.put("x-switchover-acked", src != null && src.switchoverAcked());
        }
        return m;
    }

    /** QEMU's {@code SocketAddress} of a listening incoming migration, as query-migrate shows it. */
    private static Optional<Map<String, Object>> socketAddress(MigrationUri uri) {
        Map<String, Object> a = new LinkedHashMap<>();
        switch (uri) {
            case MigrationUri.Tcp t -> {
                a.put("type", "inet");
                a.put("host", t.host());
                a.put("port", Integer.toString(t.port()));
            }
            case MigrationUri.Unix u -> {
                a.put("type", "unix");
                a.put("path", u.path().toString());
            }
            default -> {
                return Optional.empty();
            }
        }
        return Optional.of(a);
    }

    private Map<String, Object> ramInfo() {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("transferred", stats.ramTransferred);
        r.put("remaining", stats.remainingBytes);
        r.put("total", stats.totalBytes);
        r.put("duplicate", stats.duplicatePages);
        r.put("skipped", 0L);
        r.put("normal", stats.normalPages);
        r.put("normal-bytes", stats.normalBytes);
        r.put("dirty-pages-rate", stats.dirtyPagesRate);
        r.put("mbps", stats.mbps);
        r.put("dirty-sync-count", stats.dirtySyncCount);
        r.put("postcopy-requests", 0L);
        r.put("page-size", (long) io.livemig.guest.PageSize.TARGET_PAGE_SIZE);
        r.put("multifd-bytes", stats.multifdBytes);
        r.put("pages-per-second", stats.pagesPerSecond);
        r.put("precopy-bytes", stats.precopyBytes);
        r.put("downtime-bytes", stats.downtimeBytes);
        r.put("postcopy-bytes", 0L);
        r.put("dirty-sync-missed-zero-copy", 0L);
        return r;
    }

    /** QEMU's {@code XBZRLECacheStats}, in its field order. */
    private Map<String, Object> xbzrleInfo() {
        Map<String, Object> x = new LinkedHashMap<>();
        x.put("cache-size", params.xbzrleCacheSize());
        x.put("bytes", stats.xbzrleBytes);
        x.put("pages", stats.xbzrlePages);
        x.put("cache-miss", stats.xbzrleCacheMiss);
        x.put("cache-miss-rate", stats.xbzrleCacheMissRate);
        x.put("encoding-rate", stats.xbzrleEncodingRate);
        x.put("overflow", stats.xbzrleOverflow);
        return x;
    }

    /** The parameters themselves, for settings QMP does not carry (the warm-up's packet size). */
    MigrationParameters migrationParameters() {
        return params;
    }

    /** QMP {@code query-migrate-parameters}. */
    public Map<String, Object> queryMigrateParameters() {
        return MigrationParametersCodec.query(params);
    }

    /**
     * QMP {@code migrate-set-parameters}: {@code args} is the command's {@code arguments} object as
     * parsed JSON. Unknown keys and wrong types are rejected as QEMU rejects them, and nothing is
     * changed unless everything is valid.
     */
    public void setMigrateParameters(Map<String, Object> args) throws VmCommandException {
        MigrationParametersCodec.apply(params, args, authzObjects::containsKey);
    }

    /**
     * QMP {@code object-add} and {@code -object}, for the one user-creatable type a guest without
     * devices needs at run time: {@code authz-simple} ({@code qom-type}, {@code id},
     * {@code identity}), which the {@code tls-authz} parameter names. Memory backends are
     * created only from the command line. Errors are QEMU 7.2's where it has the case.
     */
    public synchronized void objectAdd(Map<String, Object> args) throws VmCommandException {
        Object type = args.get("qom-type");
        Object id = args.get("id");
        if (type == null) {
            throw VmCommandException.generic("Parameter 'qom-type' is missing");
        }
        if (id == null) {
            throw VmCommandException.generic("Parameter 'id' is missing");
        }
        if (!(type instanceof String t)) {
            throw VmCommandException.generic("Invalid parameter type for 'qom-type', expected: string");
        }
        if (!(id instanceof String i)) {
            throw VmCommandException.generic("Invalid parameter type for 'id', expected: string");
        }
        if (!t.equals(io.livemig.channel.AuthzSimple.QOM_TYPE)) {
            throw VmCommandException.generic("Invalid parameter 'qom-type': object type '" + t
                    + "' cannot be created at run time by livemig (only " + io.livemig.channel.AuthzSimple.QOM_TYPE + ")");
        }
        if (!i.matches("[A-Za-z][A-Za-z0-9_.-]*")) {
            throw VmCommandException.generic("Parameter 'id' expects an identifier");
        }
        for (String k : args.keySet()) {
            if (!List.of("qom-type", "id", "identity").contains(k)) {
                throw VmCommandException.generic("Parameter '" + k + "' is unexpected");
            }
        }
        Object identity = args.get("identity");
        if (identity == null) {
            throw VmCommandException.generic("Parameter 'identity' is missing");
        }
        if (!(identity instanceof String dn)) {
            throw VmCommandException.generic("Invalid parameter type for 'identity', expected: string");
        }
        if (authzObjects.containsKey(i) || config.backends().stream().anyMatch(b -> b.id().equals(i))) {
            throw VmCommandException.generic("attempt to add duplicate property '" + i + "' to object (type 'container')");
        }
        authzObjects.put(i, new io.livemig.channel.AuthzSimple(i, dn));
    }

    /** QMP {@code object-del}: removes an {@code authz-simple}; a later TLS connection naming it fails. */
    public synchronized void objectDel(String id) throws VmCommandException {
        if (authzObjects.remove(id) != null) {
            return;
        }
        if (config.backends().stream().anyMatch(b -> b.id().equals(id))) {
            throw VmCommandException.generic("object '" + id + "' is in use, can not be deleted");
        }
        throw VmCommandException.generic("object '" + id + "' not found");
    }

    /** QMP {@code query-migrate-capabilities}: a list of {@code {"capability": name, "state": bool}}. */
    public List<Map<String, Object>> queryMigrateCapabilities() {
        return MigrationParametersCodec.queryCapabilities(caps);
    }

    /** QMP {@code migrate-set-capabilities}. */
    public synchronized void setMigrateCapabilities(List<Map<String, Object>> capabilities) throws VmCommandException {
        var next = MigrationParametersCodec.parseCapabilities(caps.enabled(), capabilities);
        if (outgoing.status().isRunning() || incomingState.status().isRunning() && !incomingState.status().equals(MigrationStatus.SETUP)) {
            throw VmCommandException.generic("There's a migration process in progress");
        }
        caps.set(next);
    }

    /** The engine's view for tests and tools: the migration status of the outgoing side. */
    public MigrationStatus outgoingStatus() {
        return outgoing.status();
    }

    public MigrationStatus incomingStatus() {
        return incomingState.status();
    }

    public void addEventListener(VmEventListener listener) {
        listeners.add(listener);
    }

    public void removeEventListener(VmEventListener listener) {
        listeners.remove(listener);
    }

    private void emit(String event, Map<String, Object> data) {
        for (VmEventListener l : listeners) {
            l.onEvent(event, data);
        }
    }

    private void migrationStatusEvent(MigrationStatus s) {
        if (caps.has(Capability.EVENTS)) {
            emit("MIGRATION", Map.of("status", s.qapiName()));
        }
    }

    /** Guards {@link #lastState}; never held while calling into the gate (the gate calls us). */
    private final Object runStateLock = new Object();
    private RunState lastState;

    private void runStateChanged(RunState s) {
        timers.onRunState(s);
        boolean wasRunning;
        synchronized (runStateLock) {
            wasRunning = lastState != null && lastState.isRunning();
            lastState = s;
        }
        if (s.isRunning() && !wasRunning) {
            emit("RESUME", Map.of());
        } else if (!s.isRunning() && wasRunning) {
            emit("STOP", Map.of());
        }
    }

    /** QMP {@code quit}: cancels any migration, stops the workloads and releases memory. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        MigrationSource src = source;
        if (src != null) {
            src.cancel();
            joinQuietly(src::join);
        }
        MigrationIncoming mi = incoming;
        if (mi != null) {
            mi.cancel();
            joinQuietly(mi::join);
        }
        gate.shutdown();
        for (Workload w : workloads) {
            w.close();
        }
        memory.close();
        drives.forEach(DriveImage::close);
    }

    private interface Joiner {
        void join(long millis) throws InterruptedException;
    }

    private static void joinQuietly(Joiner j) {
        try {
            j.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
