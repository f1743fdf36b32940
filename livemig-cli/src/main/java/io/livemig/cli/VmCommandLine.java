package io.livemig.cli;

import io.livemig.cli.qmp.QmpAddress;
import io.livemig.guest.WorkloadSpec;
import io.livemig.vm.VmConfig;
import io.livemig.vm.VmConfig.MemoryBackend;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Parses the QEMU-style arguments of {@code livemig vm} into a {@link VmConfig} and the QMP
 * addresses to serve, with QEMU's meaning (system/vl.c, qemu-options.hx). Every value is validated
 * here, once; a bad one fails with a {@link UsageException} whose message names the option and the
 * value, e.g. {@code livemig vm: -m: invalid size '12X' (use k, M, G or T suffixes)}.
 *
 * <p>Main RAM follows QEMU 7.2 for {@code -machine none}: with {@code memory-backend=ID} the backend
 * {@code ID} is main RAM and its id is the RAM block name on the wire; with {@code -m SIZE} alone an
 * anonymous backend named {@code ram} (the machine's {@code default_ram_id}) is created; with
 * neither, or {@code -m 0}, the guest has no main RAM and {@link VmConfig#memoryBackend()} is
 * empty. Checked against QEMU 7.2 by migrating to a file and reading the RAM block list.
 */
public final class VmCommandLine {

    /** The RAM block name QEMU gives the implicit backend of {@code -machine none -m SIZE}. */
    public static final String DEFAULT_RAM_ID = "ram";

    private static final long MIB = 1L << 20;
    private static final int MAX_WORKLOAD_THREADS = 1024;

    /**
     * The result: the guest to build, the QMP servers to start, the {@code -object authz-simple}
     * objects to add to the guest once built (as {@code object-add} arguments, in order), and
     * whether to compile the page path before QMP answers ({@code -x-warmup}, a livemig option,
     * default on; see {@link io.livemig.vm.PagePathWarmup}).
     */
    public record Parsed(VmConfig config, List<QmpAddress> qmp, List<Map<String, Object>> objects, boolean warmup) {
        public Parsed {
            qmp = List.copyOf(qmp);
            objects = List.copyOf(objects);
        }

        public Parsed(VmConfig config, List<QmpAddress> qmp) {
            this(config, qmp, List.of(), true);
        }
    }

    private Optional<String> name = Optional.empty();
    private Optional<UUID> uuid = Optional.empty();
    private String machine;
    private String machineBackend;
    private long ramSize = -1;
    private final Map<String, MemoryBackend> backends = new LinkedHashMap<>();
    /** {@code -object authz-simple,…} by id, as object-add arguments */
    private final Map<String, Map<String, Object>> authz = new LinkedHashMap<>();
    private final List<KeyValueOptions> workloadOptions = new ArrayList<>();
    private final List<QmpAddress> qmp = new ArrayList<>();
    private boolean startPaused;
    private boolean warmup = true;
    private Optional<String> incoming = Optional.empty();
    private final List<VmConfig.DeviceSpec> devices = new ArrayList<>();
    private final List<VmConfig.DriveSpec> drives = new ArrayList<>();
    /** ids of devices and drives (one namespace, as QEMU's peripheral ids) */
    private final Set<String> ids = new java.util.HashSet<>();

    /** The {@code -device} models livemig has. */
    public static final List<String> DEVICE_DRIVERS = List.of("vfio-sim");

    private VmCommandLine() {
    }

    public static Parsed parse(List<String> args) throws UsageException {
        VmCommandLine p = new VmCommandLine();
        for (int i = 0; i < args.size(); i++) {
            String opt = args.get(i);
            if (!opt.startsWith("-") || opt.equals("-") || opt.equals("--")) {
                throw new UsageException("livemig vm: unexpected argument '" + opt + "' (options start with '-')");
            }
            // QEMU accepts --opt for -opt
            String canonical = opt.startsWith("--") ? opt.substring(1) : opt;
            if (p.flag(canonical)) {
                continue;
            }
            if (i + 1 >= args.size()) {
                throw new UsageException("livemig vm: " + opt + ": requires an argument");
            }
            p.option(canonical, args.get(++i));
        }
        return p.finish();
    }

    /** Handles an option without argument; false when {@code opt} takes one. */
    private boolean flag(String opt) throws UsageException {
        switch (opt) {
            case "-S" -> startPaused = true;
            case "-nodefaults", "-nographic" -> {
                // accepted for QEMU compatibility: a livemig guest has no default devices or display
            }
            case "-machine", "-M", "-m", "-name", "-uuid", "-display", "-object", "-qmp", "-incoming", "-workload",
                 "-device", "-drive", "-x-warmup" -> {
                return false;
            }
            default -> throw new UsageException("livemig vm: " + opt + ": invalid option");
        }
        return true;
    }

    private void option(String opt, String value) throws UsageException {
        switch (opt) {
            case "-machine", "-M" -> machine(KeyValueOptions.parse(opt, value, "type"));
            case "-m" -> memory(KeyValueOptions.parse(opt, value, "size"));
            case "-name" -> {
                KeyValueOptions kv = KeyValueOptions.parse(opt, value, "guest");
                String guest = kv.take("guest");
                kv.rejectUnknown(Set.of("debug-threads", "process"));
                name = Optional.ofNullable(guest);
            }
            case "-uuid" -> {
                if (!value.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
                    throw new UsageException("livemig vm: -uuid: invalid UUID '" + value
                            + "' (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
                }
                uuid = Optional.of(UUID.fromString(value));
            }
            case "-display" -> {
                KeyValueOptions kv = KeyValueOptions.parse(opt, value, "type");
                String type = kv.take("type");
                if (!"none".equals(type)) {
                    throw kv.error("display type '" + type + "' is not supported (only 'none')");
                }
                kv.rejectUnknown();
            }
            case "-object" -> object(KeyValueOptions.parse(opt, value, "qom-type"));
            case "-qmp" -> qmp.add(qmpAddress(value));
            case "-incoming" -> {
                if (!value.equals("defer") && !value.matches("(tcp|unix|file|exec):.+")) {
                    throw new UsageException("livemig vm: -incoming: unknown migration protocol: " + value
                            + " (use tcp:, unix:, file:, exec: or defer)");
                }
                incoming = Optional.of(value);
            }
            case "-workload" -> workloadOptions.add(KeyValueOptions.parse(opt, value, null));
            case "-device" -> device(KeyValueOptions.parse(opt, value, "driver"));
            case "-drive" -> drive(KeyValueOptions.parse(opt, value, null));
            case "-x-warmup" -> warmup = switch (value) {
                case "on" -> true;
                case "off" -> false;
                default -> throw new UsageException("livemig vm: -x-warmup: invalid value '" + value
                        + "' (use on or off)");
            };
            default -> throw new IllegalStateException(opt);
        }
    }

    /** {@code -device DRIVER,id=ID,…}: the driver's properties are the device's to check. */
    private void device(KeyValueOptions kv) throws UsageException {
        String driver = kv.require("driver");
        if (!DEVICE_DRIVERS.contains(driver)) {
            throw kv.error("'" + driver + "' is not a valid device model name (livemig has " + String.join(", ", DEVICE_DRIVERS) + ")");
        }
        String id = kv.require("id");
        if (!ids.add(id)) {
            throw kv.error("Duplicate ID '" + id + "' for device");
        }
        devices.add(new VmConfig.DeviceSpec(driver, id, kv.takeAll()));
    }

    /** {@code -drive file=PATH,format=raw,if=none,id=ID}. */
    private void drive(KeyValueOptions kv) throws UsageException {
        String file = kv.require("file");
        String id = kv.require("id");
        String format = kv.take("format");
        if (format != null && !format.equals("raw")) {
            throw kv.error("format '" + format + "' is not supported (only raw)");
        }
        String iface = kv.take("if");
        if (iface != null && !iface.equals("none")) {
            throw kv.error("if=" + iface + " is not supported (only if=none)");
        }
        kv.rejectUnknown();
        if (!ids.add(id)) {
            throw kv.error("Duplicate ID '" + id + "' for drive");
        }
        drives.add(new VmConfig.DriveSpec(id, Path.of(file)));
    }

    private void machine(KeyValueOptions kv) throws UsageException {
        String type = kv.take("type");
        if (type != null) {
            if (!type.equals("none")) {
                throw kv.error("unsupported machine type '" + type + "' (only 'none')");
            }
            machine = type;
        }
        String backend = kv.take("memory-backend");
        if (backend != null) {
            machineBackend = backend;
        }
        kv.rejectUnknown();
    }

    private void memory(KeyValueOptions kv) throws UsageException {
        String size = kv.require("size");
        kv.rejectUnknown();
        long bytes = Sizes.parse(size, MIB);
        if (bytes < 0) {
            throw kv.error("invalid size '" + size + "' " + Sizes.SUFFIX_HINT);
        }
        ramSize = bytes;
    }

    private void object(KeyValueOptions kv) throws UsageException {
        String type = kv.require("qom-type");
        boolean file = switch (type) {
            case "memory-backend-ram" -> false;
            case "memory-backend-file" -> true;
            case "authz-simple" -> false;
            default -> throw kv.error("object type '" + type
                    + "' is not supported (use memory-backend-ram, memory-backend-file or authz-simple)");
        };
        String id = kv.require("id");
        if (!id.matches("[A-Za-z][A-Za-z0-9_.-]*")) {
            throw kv.error("invalid id '" + id + "' (a letter, then letters, digits, '-', '.', '_')");
        }
        if (type.equals("authz-simple")) {
            authzSimple(kv, id);
            return;
        }
        String sizeText = kv.require("size");
        long size = Sizes.parse(sizeText, 1);
        if (size < 0) {
            throw kv.error("invalid size '" + sizeText + "' " + Sizes.SUFFIX_HINT);
        }
        if (size == 0) {
            throw kv.error("property 'size' of " + type + " doesn't take value '0'");
        }
        Optional<Path> memPath = Optional.empty();
        if (file) {
            memPath = Optional.of(Path.of(kv.require("mem-path")));
        }
        boolean share = kv.takeBoolean("share", false);
        boolean prealloc = kv.takeBoolean("prealloc", false);
        kv.rejectUnknown();
        if (backends.containsKey(id) || authz.containsKey(id)) {
            throw kv.error("Duplicate ID '" + id + "' for object");
        }
        backends.put(id, new MemoryBackend(id, size, memPath, share, prealloc));
    }

    /**
     * {@code -object authz-simple,id=ID,identity=DN}: the object {@code tls-authz} names. A DN has
     * commas, which QEMU's option syntax writes doubled: {@code identity=CN=src,,O=Example}.
     */
    private void authzSimple(KeyValueOptions kv, String id) throws UsageException {
        String identity = kv.require("identity");
        kv.rejectUnknown();
        if (backends.containsKey(id) || authz.containsKey(id)) {
            throw kv.error("Duplicate ID '" + id + "' for object");
        }
        authz.put(id, Map.of("qom-type", "authz-simple", "id", id, "identity", identity));
    }

    private static QmpAddress qmpAddress(String value) throws UsageException {
        KeyValueOptions kv = KeyValueOptions.parse("-qmp", value, "backend");
        String backend = kv.take("backend");
        if (backend == null) {
            throw kv.error("expected unix:PATH or tcp:HOST:PORT, got '" + value + "'");
        }
        boolean server = kv.takeBoolean("server", false);
        boolean wait = kv.takeBoolean("wait", true);
        kv.rejectUnknown();
        if (!server) {
            throw kv.error("only server mode is supported (add server=on,wait=off)");
        }
        if (wait) {
            throw kv.error("wait=on is not supported (add wait=off)");
        }
        if (backend.startsWith("unix:") && backend.length() > "unix:".length()) {
            return new QmpAddress.Unix(Path.of(backend.substring("unix:".length())));
        }
        if (backend.startsWith("tcp:")) {
            String hostPort = backend.substring("tcp:".length());
            int colon = hostPort.lastIndexOf(':');
            if (colon >= 0) {
                String host = hostPort.substring(0, colon);
                if (host.startsWith("[") && host.endsWith("]")) {
                    host = host.substring(1, host.length() - 1);
                }
                String port = hostPort.substring(colon + 1);
                if (port.matches("[0-9]{1,5}") && Integer.parseInt(port) <= 65535) {
                    // no host: loopback only (QEMU would listen on every interface); a control
                    // socket reachable from the network must be asked for by name, e.g. tcp:0.0.0.0:P
                    return new QmpAddress.Tcp(host.isEmpty() ? "127.0.0.1" : host, Integer.parseInt(port));
                }
                throw kv.error("invalid port '" + port + "' in '" + backend + "'");
            }
        }
        throw kv.error("'" + backend + "' is not a valid QMP address (use unix:PATH or tcp:HOST:PORT)");
    }

    private Parsed finish() throws UsageException {
        String mainRam = "";
        List<MemoryBackend> all = new ArrayList<>(backends.values());
        if (machineBackend != null) {
            MemoryBackend b = backends.get(machineBackend);
            if (b == null) {
                throw new UsageException("livemig vm: -machine: Memory backend '" + machineBackend + "' not found");
            }
            if (ramSize >= 0 && ramSize != b.size()) {
                throw new UsageException("livemig vm: -m: Machine memory size does not match the size of the memory"
                        + " backend (-m " + Sizes.format(ramSize) + ", " + b.id() + " size=" + Sizes.format(b.size()) + ")");
            }
            mainRam = b.id();
        } else if (ramSize > 0) {
            if (backends.containsKey(DEFAULT_RAM_ID)) {
                throw new UsageException("livemig vm: -m: object '" + DEFAULT_RAM_ID
                        + "' is reserved for the implicit main RAM; use -machine none,memory-backend=" + DEFAULT_RAM_ID);
            }
            all.addFirst(new MemoryBackend(DEFAULT_RAM_ID, ramSize, Optional.empty(), false, false));
            mainRam = DEFAULT_RAM_ID;
        }
        List<WorkloadSpec> workloads = new ArrayList<>();
        for (KeyValueOptions kv : workloadOptions) {
            workloads.add(workload(kv, all, drives));
        }
        VmConfig config = new VmConfig(name, uuid, machine == null ? "none" : machine, mainRam, all, workloads,
                startPaused, incoming, devices, drives);
        return new Parsed(config, qmp, List.copyOf(authz.values()), warmup);
    }

    /**
     * {@code -workload target=ID,…}: the target is a memory backend or a drive. A drive's size is
     * its image file's, known only when the guest is built, so its hotset-size is checked then.
     */
    private static WorkloadSpec workload(KeyValueOptions kv, List<MemoryBackend> backends,
                                         List<VmConfig.DriveSpec> drives) throws UsageException {
        String target = kv.require("target");
        MemoryBackend block = backends.stream().filter(b -> b.id().equals(target)).findFirst().orElse(null);
        if (block == null && drives.stream().noneMatch(d -> d.id().equals(target))) {
            throw kv.error("target '" + target + "' is not a memory backend or a drive");
        }
        String rateText = kv.take("dirty-rate");
        long rate = WorkloadSpec.UNTHROTTLED;
        if (rateText != null && !rateText.equals("max")) {
            rate = Sizes.parse(rateText, 1);
            if (rate <= 0) {
                throw kv.error("invalid dirty-rate '" + rateText
                        + "' (bytes per second, with k, M or G suffixes, or 'max')");
            }
        }
        String patternText = kv.take("pattern");
        WorkloadSpec.Pattern pattern;
        try {
            pattern = patternText == null ? WorkloadSpec.Pattern.RANDOM : WorkloadSpec.Pattern.fromQapi(patternText);
        } catch (IllegalArgumentException e) {
            throw kv.error(e.getMessage());
        }
        String hotsetText = kv.take("hotset-size");
        long hotset = 0;
        if (hotsetText != null) {
            if (pattern != WorkloadSpec.Pattern.HOTSET) {
                throw kv.error("hotset-size applies only to pattern=hotset");
            }
            hotset = Sizes.parse(hotsetText, 1);
            if (hotset <= 0 || (block != null && hotset > block.size())) {
                throw kv.error("invalid hotset-size '" + hotsetText + "' (1.."
                        + (block == null ? "the drive's size" : Sizes.format(block.size())) + ", the size of " + target + ")");
            }
        } else if (pattern == WorkloadSpec.Pattern.HOTSET) {
            throw kv.error("pattern=hotset needs hotset-size=SIZE");
        }
        int threads = (int) integer(kv, "threads", 1, 1, MAX_WORKLOAD_THREADS);
        long seed = integer(kv, "seed", 1, Long.MIN_VALUE, Long.MAX_VALUE);
        int writeBytes = (int) integer(kv, "write-bytes", WorkloadSpec.DEFAULT_WRITE_BYTES, 8, 4096);
        if (writeBytes % 8 != 0) {
            throw kv.error("write-bytes must be a multiple of 8 in 8..4096, got '" + writeBytes + "'");
        }
        kv.rejectUnknown();
        return new WorkloadSpec(target, rate, pattern, hotset, threads, seed, writeBytes);
    }

    private static long integer(KeyValueOptions kv, String key, long dflt, long min, long max) throws UsageException {
        String text = kv.take(key);
        if (text == null) {
            return dflt;
        }
        try {
            long v = Long.parseLong(text);
            if (v >= min && v <= max) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below with the rule
        }
        String rule = min == Long.MIN_VALUE ? "a 64-bit integer" : "an integer " + min + ".." + max;
        throw kv.error(key + " must be " + rule + ", got '" + text + "'");
    }
}
