package io.livemig.cli.scenario;

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
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * RAM, a block device and two vfio-sim devices share a 32 MiB/s link under {@code fair}. While
 * all four have data (RAM's first pass over random memory, block's bulk pass, both devices'
 * initial data), the design promises each {@code budget / 4} per window within one record of
 * overshoot that is paid back: over a few seconds every device's share of the bytes is 25 %
 * within a few records. Measured from {@code x-devices}, which counts each section's bytes on
 * the wire.
 */
class FairShareIT {

    static final long MIB = 1L << 20;

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private void randomFile(Path f, long size, long s) throws IOException {
        SplittableRandom r = new SplittableRandom(s);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            for (long pos = 0; pos < size; pos += b.capacity()) {
                b.clear();
                while (b.hasRemaining()) {
                    b.putLong(r.nextLong());
                }
                b.flip();
                ch.write(b, pos);
            }
        }
    }

    private List<String> guest(String side) throws IOException {
        Path ram = dir.resolve(side + ".ram");
        Path disk = dir.resolve(side + ".img");
        long s = seed.seed();
        randomFile(ram, 256 * MIB, side.equals("src") ? s : s + 1);
        randomFile(disk, 64 * MIB, side.equals("src") ? s + 2 : s + 3);
        return new ArrayList<>(List.of("-machine", "none,memory-backend=mem0", "-m", "256M",
                "-object", "memory-backend-file,id=mem0,size=256M,mem-path=" + ram + ",share=on",
                "-drive", "file=" + disk + ",format=raw,if=none,id=disk0",
                "-device", "vfio-sim,id=vf0,initial-bytes=64M,seed=" + s,
                "-device", "vfio-sim,id=vf1,initial-bytes=64M,seed=" + (s + 1)));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Map<String, Object>> devices(Map<String, Object> q) {
        Map<String, Map<String, Object>> m = new LinkedHashMap<>();
        for (Map<String, Object> d : (List<Map<String, Object>>) q.getOrDefault("x-devices", List.of())) {
            m.put((String) d.get("idstr"), d);
        }
        return m;
    }

    private static long transferred(Map<String, Map<String, Object>> d, String id) {
        return ((Number) d.get(id).get("transferred")).longValue();
    }

    @Test
    @Timeout(120)
    void fourDevicesEachGetAQuarterOfALowBandwidth() throws Exception {
        List<String> dstArgs = guest("dst");
        dstArgs.addAll(List.of("-incoming", "tcp:127.0.0.1:0"));
        try (VmProcess src = VmProcess.start(dir, guest("src").toArray(String[]::new));
             VmProcess dst = VmProcess.start(dir, dstArgs.toArray(String[]::new))) {
            src.qmp().execute("migrate-set-capabilities", Map.of("capabilities",
                    List.of(Map.of("capability", "block", "state", true))));
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 32 * MIB, "x-iterate-policy", "fair"));
            src.qmp().execute("migrate", Map.of("uri", Migrations.incomingTcpUri(dst.qmp())));
            Migrations.awaitStatus(src.qmp(), Set.of("active"), Duration.ofSeconds(30));
            // let every device get going (one window each at least), then measure over ~5 s
            Migrations.awaitMigrate(src.qmp(), q -> devices(q).values().stream()
                    .allMatch(d -> ((Number) d.get("iterations")).longValue() >= 2), "every device iterated twice",
                    Duration.ofSeconds(20));
            Map<String, Map<String, Object>> before = devices(Migrations.queryMigrate(src.qmp()));
            long sumBefore = before.values().stream().mapToLong(d -> ((Number) d.get("transferred")).longValue()).sum();
            long t0 = System.nanoTime();
            // measure over ~4 s of traffic: until 128 MiB more have moved
            Map<String, Object> q = Migrations.awaitMigrate(src.qmp(), m -> devices(m).values().stream()
                    .mapToLong(d -> ((Number) d.get("transferred")).longValue()).sum() - sumBefore >= 128 * MIB,
                    "128 MiB more on the wire", Duration.ofSeconds(30));
            double seconds = (System.nanoTime() - t0) / 1e9;
            Map<String, Map<String, Object>> after = devices(q);
            assertThat(q.get("status")).as("still in pre-copy: %s", q).isEqualTo("active");
            assertThat(after.keySet()).containsExactly("ram", "block", "vf0/vfio", "vf1/vfio");
            for (Map<String, Object> d : after.values()) {
                assertThat(((Number) d.get("pending")).longValue()).as("%s still has data", d).isPositive();
            }
            long total = 0;
            for (String id : after.keySet()) {
                total += transferred(after, id) - transferred(before, id);
            }
            // the limit holds on average (overshoot is charged to the next window)
            assertThat(total / seconds).as("bytes/s over %.1f s", seconds).isBetween(24.0 * MIB, 36.0 * MIB);
            // each share within 25 % ± (3 records + sampling of one section per device) / total
            double tolerance = (3.0 * MIB + 4 * MIB) / total;
            for (String id : after.keySet()) {
                double share = (double) (transferred(after, id) - transferred(before, id)) / total;
                System.out.printf("FairShareIT: %s %.3f of %d bytes in %.1f s%n", id, share, total, seconds);
                assertThat(share).as("%s's share of %d bytes over %.1f s (all: %s)", id, total, seconds, after)
                        .isBetween(0.25 - tolerance, 0.25 + tolerance);
            }
            src.qmp().execute("migrate_cancel");
            Migrations.awaitStatus(src.qmp(), Set.of("cancelled"), Duration.ofSeconds(10));
            assertThat(Migrations.runState(src.qmp())).isEqualTo("running");
        }
    }
}
