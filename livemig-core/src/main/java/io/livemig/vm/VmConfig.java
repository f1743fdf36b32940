package io.livemig.vm;

import io.livemig.guest.WorkloadSpec;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Everything a {@link VirtualMachine} is built from: the parsed, validated form of a QEMU-style
 * command line ({@code -machine none,memory-backend=mem0 -m 256M -object memory-backend-file,…}).
 * Validation happens at the edge (the CLI parser); this record trusts its values.
 *
 * @param name        {@code -name}, or empty
 * @param uuid        {@code -uuid}, or empty
 * @param machine     machine type; only {@code none} exists
 * @param memoryBackend id of the backend used as main RAM ({@code memory-backend=ID}); its idstr
 *                    is the RAM block name on the wire, as in QEMU
 * @param backends    the {@code -object memory-backend-*} objects
 * @param workloads   the {@code -workload} vCPU loads
 * @param startPaused {@code -S}
 * @param incoming    {@code -incoming URI} (or {@code defer}); empty when not a destination
 */
public record VmConfig(
        Optional<String> name,
        Optional<UUID> uuid,
        String machine,
        String memoryBackend,
        List<MemoryBackend> backends,
        List<WorkloadSpec> workloads,
        boolean startPaused,
        Optional<String> incoming,
        List<DeviceSpec> devices,
        List<DriveSpec> drives) {

    public VmConfig {
        backends = List.copyOf(backends);
        workloads = List.copyOf(workloads);
        devices = List.copyOf(devices);
        drives = List.copyOf(drives);
    }

    /** A guest without {@code -device} or {@code -drive}. */
    public VmConfig(Optional<String> name, Optional<UUID> uuid, String machine, String memoryBackend,
                    List<MemoryBackend> backends, List<WorkloadSpec> workloads, boolean startPaused,
                    Optional<String> incoming) {
        this(name, uuid, machine, memoryBackend, backends, workloads, startPaused, incoming, List.of(), List.of());
    }

    /**
     * {@code -device DRIVER,id=ID,key=value,…}: the driver's own properties are checked by the
     * device when the guest is built (an {@link IllegalArgumentException} naming the property).
     */
    public record DeviceSpec(String driver, String id, java.util.Map<String, String> props) {
        public DeviceSpec {
            props = java.util.Map.copyOf(props);
        }
    }

    /** {@code -drive file=PATH,format=raw,if=none,id=ID}: a raw disk image. */
    public record DriveSpec(String id, Path file) {
    }

    /** {@code -object memory-backend-ram|memory-backend-file}. */
    public record MemoryBackend(String id, long size, Optional<Path> memPath, boolean share, boolean prealloc) {
    }

}
