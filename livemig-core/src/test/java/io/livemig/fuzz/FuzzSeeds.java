package io.livemig.fuzz;

import io.livemig.guest.RamBlock;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.MigrationStatus;
import io.livemig.stream.SectionType;
import io.livemig.vm.VirtualMachine;
import io.livemig.vm.VmConfig;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Valid streams of every feature livemig has, produced in-process by real sources saving to
 * {@code file:}: plain RAM, RAM + a vfio-sim device, block migration, XBZRLE, and a plain stream
 * with return-path commands (OPEN_RETURN_PATH, PINGs) spliced in by hand. Each seed also carries
 * its record boundaries, found from the section footers, for structure-aware mutations.
 *
 * <p>All seeds come from guests that are subsets of one destination ({@link #GUEST}), so an
 * unmutated seed loads into {@link FuzzDestination} and into a {@code VirtualMachine} built from
 * {@link #destinationConfig}.
 */
final class FuzzSeeds {

    static final String RAM_ID = "mem0";
    static final long RAM_SIZE = 256L << 10;
    static final String DRIVE_ID = "drive0";
    static final long DRIVE_SIZE = 256L << 10;
    static final String VFIO_ID = "vf0";
    static final Map<String, String> VFIO_PROPS = Map.of("initial-bytes", "48K", "stop-copy-bytes", "8K",
            "dirty-rate", "0", "seed", "7");
    static final String GUEST = "-m 256K (mem0) -drive drive0 (256K) -device vfio-sim,id=vf0";

    /** A seed stream and where its records start (the last entry is the EOF byte). */
    record Seed(String name, byte[] bytes, List<Integer> boundaries) {
    }

    private FuzzSeeds() {
    }

    static VmConfig sourceConfig(boolean vfio, Optional<Path> drive, List<WorkloadSpec> workloads) {
        return new VmConfig(Optional.of("fuzz-src"), Optional.empty(), "none", RAM_ID,
                List.of(new VmConfig.MemoryBackend(RAM_ID, RAM_SIZE, Optional.empty(), false, false)),
                workloads, false, Optional.empty(),
                vfio ? List.of(new VmConfig.DeviceSpec("vfio-sim", VFIO_ID, VFIO_PROPS)) : List.of(),
                drive.map(d -> List.of(new VmConfig.DriveSpec(DRIVE_ID, d))).orElse(List.of()));
    }

    /** The whole-VM destination: the superset guest, listening later ({@code -incoming defer}). */
    static VmConfig destinationConfig(Path drive) {
        return new VmConfig(Optional.of("fuzz-dst"), Optional.empty(), "none", RAM_ID,
                List.of(new VmConfig.MemoryBackend(RAM_ID, RAM_SIZE, Optional.empty(), false, false)),
                List.of(), false, Optional.of("defer"),
                List.of(new VmConfig.DeviceSpec("vfio-sim", VFIO_ID, VFIO_PROPS)),
                List.of(new VmConfig.DriveSpec(DRIVE_ID, drive)));
    }

    static Path newDrive(Path dir, String name, long seed) throws IOException {
        byte[] b = new byte[(int) DRIVE_SIZE];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < b.length / 4; i++) {
            b[i] = (byte) r.nextInt();
        }
        return Files.write(dir.resolve(name), b);
    }

    /** Builds every seed; takes a few seconds (the XBZRLE source must run three passes). */
    static List<Seed> build(Path dir, long seed) throws Exception {
        List<Seed> seeds = new ArrayList<>();
        byte[] ram = save(dir, "ram", sourceConfig(false, Optional.empty(), List.of()), List.of(), Map.of(), seed, false);
        seeds.add(seed("ram", ram));
        seeds.add(seed("vfio", save(dir, "vfio", sourceConfig(true, Optional.empty(), List.of()), List.of(), Map.of(), seed, false)));
        Path drive = newDrive(dir, "src-drive.img", seed);
        seeds.add(seed("block", save(dir, "block", sourceConfig(false, Optional.of(drive), List.of()),
                List.of(Map.of("capability", "block", "state", true)), Map.of(), seed, false)));
        WorkloadSpec hot = new WorkloadSpec(RAM_ID, WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.HOTSET, 32L << 10, 1, seed, 64);
        seeds.add(seed("xbzrle", save(dir, "xbzrle", sourceConfig(false, Optional.empty(), List.of(hot)),
                List.of(Map.of("capability", "xbzrle", "state", true)),
                Map.of("max-bandwidth", 128L << 10, "downtime-limit", 1L, "xbzrle-cache-size", 1L << 20), seed, true)));
        seeds.add(seed("return-path", withReturnPathCommands(ram)));
        return seeds;
    }

    private static byte[] save(Path dir, String name, VmConfig config, List<Map<String, Object>> caps,
                               Map<String, Object> params, long seed, boolean waitForXbzrle) throws Exception {
        Path file = dir.resolve(name + ".seed");
        try (VirtualMachine vm = VirtualMachine.start(config)) {
            RamBlock b = vm.memory().find(RAM_ID);
            SplittableRandom r = new SplittableRandom(seed);
            for (int p = 0; p < 12; p++) {
                long page = r.nextLong(RAM_SIZE / 4096) * 4096;
                for (int i = 0; i < 4096; i += 8) {
                    b.writeLong(page + i, r.nextLong());
                }
            }
            vm.setMigrateCapabilities(caps);
            if (!params.isEmpty()) {
                vm.setMigrateParameters(params);
            }
            vm.migrate("file:" + file);
            if (waitForXbzrle) {
                await(() -> xbzrlePages(vm) >= 8 || vm.outgoingStatus().isFinished(), Duration.ofSeconds(30),
                        "XBZRLE records in the " + name + " seed");
                vm.stop();
            }
            await(() -> vm.outgoingStatus().isFinished(), Duration.ofSeconds(30), "the " + name + " seed");
            if (vm.outgoingStatus() != MigrationStatus.COMPLETED) {
                throw new AssertionError("seed " + name + " did not save: " + vm.queryMigrate());
            }
            if (waitForXbzrle && xbzrlePages(vm) == 0) {
                throw new AssertionError("seed " + name + " has no XBZRLE record: " + vm.queryMigrate());
            }
        }
        return Files.readAllBytes(file);
    }

    @SuppressWarnings("unchecked")
    private static long xbzrlePages(VirtualMachine vm) {
        Object x = vm.queryMigrate().get("xbzrle-cache");
        return x instanceof Map<?, ?> m && m.get("pages") instanceof Long l ? l : 0;
    }

    /** The plain stream with OPEN_RETURN_PATH, PING(1) after the configuration and PING(2) before EOF. */
    static byte[] withReturnPathCommands(byte[] plain) {
        int afterConfig = 8 + 1 + 4 + 4; // header, 0x07, be32 4, "none"
        int eof = eofOffset(plain);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(plain, 0, afterConfig);
        o.writeBytes(new byte[] {SectionType.COMMAND, 0, 1, 0, 0});
        o.writeBytes(ping(1));
        o.write(plain, afterConfig, eof - afterConfig);
        o.writeBytes(ping(2));
        o.write(plain, eof, plain.length - eof);
        return o.toByteArray();
    }

    static byte[] ping(int value) {
        return new byte[] {SectionType.COMMAND, 0, 2, 0, 4,
                (byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
    }

    /** The EOF byte: the one before the vmdesc ({@code 0x06 | be32 len | json} to the end). */
    static int eofOffset(byte[] s) {
        for (int i = s.length - 6; i >= 0; i--) {
            if (s[i] == 0 && s[i + 1] == SectionType.VMDESCRIPTION && be32(s, i + 2) == s.length - i - 6) {
                return i;
            }
        }
        throw new IllegalArgumentException("no vmdesc found");
    }

    static int be32(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    /**
     * Record starts: right after the configuration, after each section footer ({@code 0x7e | be32 id}
     * with a small id, followed by a record type byte), and after each command. Random page data could
     * fake a footer only with probability ~2^-40 per offset.
     */
    static Seed seed(String name, byte[] s) {
        List<Integer> b = new ArrayList<>();
        int eof = eofOffset(s);
        int p = 17;
        b.add(p);
        for (int i = p; i < eof; i++) {
            if (s[i] == SectionType.SECTION_FOOTER && i + 5 <= eof && be32(s, i + 1) >= 0 && be32(s, i + 1) < 64) {
                int next = i + 5;
                int t = s[next] & 0xff;
                if (t <= SectionType.SECTION_FULL || t == SectionType.COMMAND) {
                    b.add(next);
                }
            }
        }
        // commands spliced in by hand
        for (int i = 0; i < b.size(); i++) {
            int at = b.get(i);
            while (at < eof && s[at] == SectionType.COMMAND) {
                at += 5 + ((s[at + 3] & 0xff) << 8 | (s[at + 4] & 0xff));
                if (!b.contains(at)) {
                    b.add(i + 1, at);
                }
            }
        }
        if (!b.contains(eof)) {
            b.add(eof);
        }
        b.sort(null);
        return new Seed(name, s, List.copyOf(b));
    }

    static void await(BooleanSupplier cond, Duration timeout, String what) {
        long end = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }

    static Map<String, Integer> sizes(List<Seed> seeds) {
        Map<String, Integer> m = new LinkedHashMap<>();
        seeds.forEach(s -> m.put(s.name(), s.bytes().length));
        return m;
    }
}
