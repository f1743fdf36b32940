package io.livemig.vm;

import io.livemig.guest.RunState;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A livemig guest: memory, devices, vCPU workloads, run state, and the migration engine that can
 * move it. The QMP server and the CLI drive a guest only through this class. Command methods are
 * thread-safe (QMP clients may call them concurrently) and never block on a migration in flight.
 */
public final class VirtualMachine implements AutoCloseable {

    private final VmConfig config;
    private final List<VmEventListener> listeners = new CopyOnWriteArrayList<>();
    private volatile RunState runState;

    private VirtualMachine(VmConfig config) {
        this.config = config;
        this.runState = config.incoming().isPresent() ? RunState.INMIGRATE
                : config.startPaused() ? RunState.PRELAUNCH : RunState.RUNNING;
    }

    /**
     * Builds the guest described by {@code config}: allocates (or maps) its RAM, registers its
     * devices, starts its workloads (parked unless running) and, with {@code -incoming URI} other
     * than {@code defer}, starts listening for the incoming migration.
     */
    public static VirtualMachine start(VmConfig config) throws IOException {
        return new VirtualMachine(config);
    }

    public VmConfig config() {
        return config;
    }

    /** {@code query-status}. */
    public RunState runState() {
        return runState;
    }

    /** QMP {@code stop}: pauses the vCPUs; emits {@code STOP}. A no-op when not running. */
    public void stop() {
        runState = RunState.PAUSED;
    }

    /** QMP {@code cont}; during an incoming migration it only asks for the guest to start when it completes. */
    public void cont() throws VmCommandException {
        runState = RunState.RUNNING;
    }

    /** QMP {@code migrate}: starts an outgoing migration to {@code uri} and returns at once. */
    public void migrate(String uri) throws VmCommandException {
        throw VmCommandException.generic("migration engine not wired yet: " + uri);
    }

    /** QMP {@code migrate-incoming}: only valid for a guest started with {@code -incoming defer}. */
    public void migrateIncoming(String uri) throws VmCommandException {
        throw VmCommandException.generic("migration engine not wired yet: " + uri);
    }

    /** QMP {@code migrate_cancel} / {@code migrate-cancel}: a no-op when nothing runs. */
    public void migrateCancel() {
    }

    /** QMP {@code query-migrate}: the JSON object QEMU returns, as nested maps in QEMU's key order. */
    public Map<String, Object> queryMigrate() {
        return Map.of();
    }

    /** QMP {@code query-migrate-parameters}. */
    public Map<String, Object> queryMigrateParameters() {
        return Map.of();
    }

    /**
     * QMP {@code migrate-set-parameters}: {@code args} is the command's {@code arguments} object as
     * parsed JSON (numbers as {@link Number}, strings, booleans). Unknown keys and wrong types are
     * rejected as QEMU rejects them, and nothing is changed unless everything is valid.
     */
    public void setMigrateParameters(Map<String, Object> args) throws VmCommandException {
        if (!args.isEmpty()) {
            throw VmCommandException.generic("Parameter '" + args.keySet().iterator().next() + "' is unexpected");
        }
    }

    /** QMP {@code query-migrate-capabilities}: a list of {@code {"capability": name, "state": bool}}. */
    public List<Map<String, Object>> queryMigrateCapabilities() {
        return List.of();
    }

    /**
     * QMP {@code migrate-set-capabilities}: {@code capabilities} is the argument's list of
     * {@code {"capability": name, "state": bool}} objects as parsed JSON.
     */
    public void setMigrateCapabilities(List<Map<String, Object>> capabilities) throws VmCommandException {
        if (!capabilities.isEmpty()) {
            throw VmCommandException.generic("capabilities not wired yet");
        }
    }

    public void addEventListener(VmEventListener listener) {
        listeners.add(listener);
    }

    public void removeEventListener(VmEventListener listener) {
        listeners.remove(listener);
    }

    /** QMP {@code quit}: cancels any migration, stops the workloads and releases memory. */
    @Override
    public void close() {
        runState = RunState.SHUTDOWN;
    }
}
