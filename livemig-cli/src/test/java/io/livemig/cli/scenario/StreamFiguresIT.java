package io.livemig.cli.scenario;

import io.livemig.analyze.StreamAnalyzer;
import io.livemig.cli.testing.Migrations;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The figures query-migrate reports are the stream's own byte counts, not estimates: a guest with
 * RAM, a block device and a vfio-sim is saved to a file, the file is read back record by record
 * with {@link StreamAnalyzer}, and every per-device and RAM figure must equal what the file
 * carries. The guest is paused so that nothing changes between the last pass and the switchover:
 * then the pending each device reported at switchover must be exactly what its END section moved.
 */
class StreamFiguresIT {

    static final long MIB = 1L << 20;
    static final int PAGE = 4096;
    /** START header (type, id, str8 "ram", instance, version) and footer */
    static final long RAM_START_FRAMING = 1 + 4 + 1 + 3 + 4 + 4 + 5;
    /** PART/END header and footer */
    static final long SHORT_FRAMING = 5 + 5;

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private static void fillHalfRandom(Path f, long size, long s) throws IOException {
        SplittableRandom r = new SplittableRandom(s);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(PAGE);
            for (long pos = 0; pos < size; pos += PAGE) {
                b.clear();
                boolean random = r.nextBoolean();
                while (b.hasRemaining()) {
                    b.putLong(random ? r.nextLong() : 0);
                }
                b.flip();
                ch.write(b, pos);
            }
        }
    }

    @Test
    @Timeout(120)
    void everyFigureEqualsTheBytesTheStreamCarried() throws Exception {
        Path ram = dir.resolve("src.ram");
        Path disk = dir.resolve("src.img");
        Path file = dir.resolve("stream.bin");
        fillHalfRandom(ram, 64 * MIB, seed.seed());
        fillHalfRandom(disk, 16 * MIB, seed.seed() + 1);
        try (VmProcess src = VmProcess.start(dir, "-S", "-machine", "none,memory-backend=mem0", "-m", "64M",
                "-object", "memory-backend-file,id=mem0,size=64M,mem-path=" + ram + ",share=on",
                "-drive", "file=" + disk + ",format=raw,if=none,id=disk0",
                "-device", "vfio-sim,id=vf0,initial-bytes=8M,stop-copy-bytes=4M,seed=" + seed.seed())) {
            src.qmp().execute("migrate-set-capabilities", Map.of("capabilities",
                    List.of(Map.of("capability", "block", "state", true))));
            // slow enough for several passes, so PART sections of every device are counted
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 32 * MIB));
            src.qmp().execute("migrate", Map.of("uri", "file:" + file));
            Map<String, Object> q = Migrations.awaitStatus(src.qmp(), Set.of("completed", "failed"), Duration.ofSeconds(60));
            assertThat(q.get("status")).as("%s", q).isEqualTo("completed");

            StreamAnalyzer.Analysis a = StreamAnalyzer.analyze(file);
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> devices = (List<Map<String, Object>>) q.get("x-devices");
            assertThat(devices).extracting(d -> d.get("idstr")).containsExactly("ram", "block", "vf0/vfio");
            for (Map<String, Object> d : devices) {
                String id = (String) d.get("idstr");
                List<StreamAnalyzer.Record> sections = a.records().stream()
                        .filter(r -> id.equals(r.idstr()) && !r.type().equals("SECTION_FULL")).toList();
                long bytes = sections.stream().mapToLong(StreamAnalyzer.Record::length).sum();
                long parts = sections.stream().filter(r -> r.type().equals("SECTION_PART")).count();
                assertThat(num(d.get("transferred"))).as("%s: bytes of its sections in the file", id).isEqualTo(bytes);
                assertThat(num(d.get("iterations"))).as("%s: PART sections in the file", id).isEqualTo(parts);
                assertThat(parts).as("%s iterated", id).isPositive();
            }

            // RAM counters against the records
            Map<String, Object> ramInfo = Migrations.ram(q);
            List<StreamAnalyzer.Record> ramSections = a.records().stream().filter(r -> "ram".equals(r.idstr())).toList();
            long normal = ramSections.stream().mapToLong(r -> r.ramCounts().getOrDefault("normal", 0L)).sum();
            long zero = ramSections.stream().mapToLong(r -> r.ramCounts().getOrDefault("zero", 0L)).sum();
            long ramBytes = ramSections.stream().mapToLong(StreamAnalyzer.Record::length).sum();
            long framing = RAM_START_FRAMING + (ramSections.size() - 1) * SHORT_FRAMING;
            assertThat(num(ramInfo.get("normal"))).isEqualTo(normal);
            assertThat(num(ramInfo.get("duplicate"))).isEqualTo(zero);
            assertThat(num(ramInfo.get("normal-bytes"))).isEqualTo(normal * PAGE);
            assertThat(num(ramInfo.get("transferred"))).as("RAM payload bytes").isEqualTo(ramBytes - framing);
            assertThat(num(ramInfo.get("precopy-bytes")) + num(ramInfo.get("downtime-bytes"))).isEqualTo(num(ramInfo.get("transferred")));
            assertThat(normal + zero).as("every page sent once (nothing dirtied: the guest is paused)").isEqualTo(64 * MIB / PAGE);

            // pending at switchover = what each END section moved (nothing changed in between)
            StreamAnalyzer.Record ramEnd = last(a, "ram", "SECTION_END");
            long ramPending = num(devices.get(0).get("pending"));
            assertThat((ramEnd.ramCounts().get("normal") + ramEnd.ramCounts().get("zero")) * PAGE).isEqualTo(ramPending);
            StreamAnalyzer.Record vfEnd = last(a, "vf0/vfio", "SECTION_END");
            assertThat(vfEnd.ramCounts().get("data-bytes")).as("vfio END data = pending at switchover = stop-copy-bytes")
                    .isEqualTo(num(devices.get(2).get("pending"))).isEqualTo(4 * MIB);
            StreamAnalyzer.Record blockEnd = last(a, "block", "SECTION_END");
            assertThat(blockEnd.ramCounts().get("chunks") * MIB).isEqualTo(num(devices.get(1).get("pending")));
            long allVfData = a.records().stream().filter(r -> "vf0/vfio".equals(r.idstr()))
                    .mapToLong(r -> r.ramCounts().getOrDefault("data-bytes", 0L)).sum();
            assertThat(allVfData).as("initial + stop-copy data").isEqualTo(12 * MIB);
            assertThat(Files.size(file)).isGreaterThan(num(ramInfo.get("transferred")));
        }
    }

    private static StreamAnalyzer.Record last(StreamAnalyzer.Analysis a, String id, String type) {
        return a.records().stream().filter(r -> id.equals(r.idstr()) && type.equals(r.type())).reduce((x, y) -> y)
                .orElseThrow(() -> new AssertionError("no " + type + " for " + id));
    }

    private static long num(Object o) {
        return ((Number) o).longValue();
    }
}
