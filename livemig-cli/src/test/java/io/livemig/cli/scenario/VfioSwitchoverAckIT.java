package io.livemig.cli.scenario;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.Await;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The seed thread's scenario (QEMU commit 4e1871c450a1) between two {@code livemig vm} processes:
 * a busy 512 MiB guest (a 128 MiB hot set dirtied as fast as possible) with one vfio-sim holding
 * 32 MiB of initial pre-copy data, return-path and switchover-ack on both sides, unlimited
 * bandwidth.
 *
 * <ul>
 *   <li>{@code serial} (QEMU before 9.0): once RAM re-syncs its dirty log every pass it never
 *       finishes one, so the pass always ends at RAM and the VFIO device starves; its initial data
 *       never all moves, the destination never acks, and the migration cannot complete. Cancel
 *       leaves the source running. (The device does get turns at the end of RAM's bulk pass,
 *       before RAM's first sync, exactly as in QEMU, so its iteration count is not 0.)</li>
 *   <li>{@code all} and {@code fair}: the device iterates, the ack comes, the migration completes
 *       and the destination's device state equals the source's (qom-get x-state-digest).</li>
 * </ul>
 * And the stop-copy side of convergence: a device whose stop-copy data cannot move within the
 * downtime limit keeps the migration in pre-copy, with expected-downtime above the limit, until the
 * limit is raised.
 */
class VfioSwitchoverAckIT {

    private static final Duration ACTIVE_TIMEOUT = Duration.ofSeconds(30);

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private List<String> guest(String vfio, boolean busy, String... extra) {
        List<String> a = new ArrayList<>(List.of("-machine", "none,memory-backend=mem0", "-m", "512M",
                "-object", "memory-backend-ram,id=mem0,size=512M", "-device", vfio));
        if (busy) {
            a.addAll(List.of("-workload", "target=mem0,pattern=hotset,hotset-size=128M,dirty-rate=max,threads=4,seed=" + seed.seed()));
        }
        a.addAll(List.of(extra));
        return a;
    }

    private static void caps(QmpClient qmp, boolean switchoverAck) {
        List<Map<String, Object>> c = new ArrayList<>(List.of(Map.of("capability", "return-path", "state", true)));
        c.add(Map.of("capability", "switchover-ack", "state", switchoverAck));
        qmp.execute("migrate-set-capabilities", Map.of("capabilities", c));
    }

    private static Map<String, Object> query(QmpClient qmp) {
        return qmp.executeForMap("query-migrate", Map.of());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> vfioSection(Map<String, Object> q) {
        return ((List<Map<String, Object>>) q.getOrDefault("x-devices", List.of())).stream()
                .filter(d -> "vf0/vfio".equals(d.get("idstr"))).findFirst()
                .orElseThrow(() -> new AssertionError("no vf0/vfio in x-devices: " + q));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> ramSection(Map<String, Object> q) {
        return ((List<Map<String, Object>>) q.get("x-devices")).stream().filter(d -> "ram".equals(d.get("idstr")))
                .findFirst().orElseThrow();
    }

    private static long num(Object o) {
        return ((Number) o).longValue();
    }

    private static void awaitStatus(QmpClient qmp, String status, Duration timeout, VmProcess... logs) throws TimeoutException {
        java.util.concurrent.atomic.AtomicReference<Map<String, Object>> last = new java.util.concurrent.atomic.AtomicReference<>();
        try {
            Await.until(timeout, () -> {
                last.set(query(qmp));
                Object st = last.get().get("status");
                if (!status.equals(st) && ("failed".equals(st) || "cancelled".equals(st) && !status.equals("cancelled"))) {
                    throw new AssertionError("migration " + st + " while waiting for " + status + ": " + last.get());
                }
                return status.equals(st);
            }, "query-migrate status " + status);
        } catch (TimeoutException e) {
            StringBuilder sb = new StringBuilder(e.getMessage() + "; last " + last.get());
            for (VmProcess p : logs) {
                sb.append('\n').append(p.output());
            }
            throw new TimeoutException(sb.toString());
        }
    }

    /** Checks {@code invariant} on every poll for the whole of {@code period}: a bounded "never". */
    private static void holdsFor(Duration period, Runnable invariant) {
        long end = System.nanoTime() + period.toNanos();
        while (System.nanoTime() < end) {
            invariant.run();
            java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
        }
        invariant.run();
    }

    private static String digest(QmpClient qmp) {
        return (String) qmp.execute("qom-get", Map.of("path", "vf0", "property", "x-state-digest"));
    }

    @Test
    @Timeout(120)
    void serialStarvesTheVfioDeviceAndTheMigrationNeverCompletes() throws Exception {
        String vfio = "vfio-sim,id=vf0,initial-bytes=32M,seed=" + seed.seed();
        // RAM filled with random data, so its bulk pass measures the real bandwidth: once the
        // pending total is under bandwidth x 300 ms every pass re-syncs the 128 MiB hot set, RAM
        // never reports finished, and under serial the pass never reaches the device. (With a
        // zero-filled guest the bulk pass moves 9-byte records, the measured bandwidth stays
        // tiny, RAM empties its bitmap before its first sync and, as in QEMU, the device gets
        // turns until the syncs begin.)
        Path ram = dir.resolve("src.ram");
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed.seed());
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(ram,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1 << 20);
            for (long pos = 0; pos < (512L << 20); pos += b.capacity()) {
                b.clear();
                while (b.hasRemaining()) {
                    b.putLong(r.nextLong());
                }
                b.flip();
                ch.write(b, pos);
            }
        }
        List<String> srcArgs = guest(vfio, true);
        srcArgs.set(srcArgs.indexOf("memory-backend-ram,id=mem0,size=512M"),
                "memory-backend-file,id=mem0,size=512M,mem-path=" + ram + ",share=on");
        try (VmProcess src = VmProcess.start(dir, srcArgs.toArray(String[]::new));
             VmProcess dst = VmProcess.start(dir, guest(vfio, false, "-incoming", "tcp:127.0.0.1:0").toArray(String[]::new))) {
            caps(src.qmp(), true);
            caps(dst.qmp(), true);
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "x-iterate-policy", "serial"));
            src.qmp().execute("migrate", Map.of("uri", incomingUri(dst)));
            awaitStatus(src.qmp(), "active", ACTIVE_TIMEOUT, src, dst);
            holdsFor(Duration.ofSeconds(10), () -> {
                Map<String, Object> q = query(src.qmp());
                assertThat(q.get("status")).as("status %s", q).isEqualTo("active");
                assertThat(q.get("x-switchover-acked")).as("acked %s", q).isEqualTo(false);
                if (q.get("x-devices") != null) {
                    assertThat(num(vfioSection(q).get("iterations"))).as("the device never gets a turn: %s", q).isZero();
                }
            });
            Map<String, Object> last = query(src.qmp());
            System.out.println("serial: in 10 s RAM " + ramSection(last).get("iterations") + " turns, vfio "
                    + vfioSection(last).get("iterations") + "; " + last);
            assertThat(num(ramSection(last).get("iterations"))).as("RAM iterated").isPositive();
            assertThat(num(src.qmp().execute("qom-get", Map.of("path", "vf0", "property", "x-bytes-produced"))))
                    .as("none of the initial data moved").isZero();
            src.qmp().execute("migrate_cancel");
            awaitStatus(src.qmp(), "cancelled", Duration.ofSeconds(10), src, dst);
            assertThat(src.qmp().executeForMap("query-status", Map.of())).containsEntry("status", "running");
        }
    }

    @ParameterizedTest(name = "x-iterate-policy={0}")
    @ValueSource(strings = {"all", "fair"})
    @Timeout(150)
    void allAndFairGiveTheDeviceItsTurnsAndTheMigrationCompletes(String policy) throws Exception {
        String vfio = "vfio-sim,id=vf0,initial-bytes=32M,seed=" + seed.seed();
        try (VmProcess src = VmProcess.start(dir, guest(vfio, true).toArray(String[]::new));
             VmProcess dst = VmProcess.start(dir, guest(vfio, false, "-incoming", "tcp:127.0.0.1:0").toArray(String[]::new))) {
            caps(src.qmp(), true);
            caps(dst.qmp(), true);
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "x-iterate-policy", policy));
            src.qmp().execute("migrate", Map.of("uri", incomingUri(dst)));
            awaitStatus(src.qmp(), "active", ACTIVE_TIMEOUT, src, dst);
            awaitStatus(src.qmp(), "completed", Duration.ofSeconds(60), src, dst);
            Map<String, Object> q = query(src.qmp());
            assertThat(q).containsEntry("x-switchover-acked", true);
            assertThat(num(vfioSection(q).get("iterations"))).isPositive();
            assertThat(num(vfioSection(q).get("transferred"))).isGreaterThanOrEqualTo(32L << 20);
            awaitStatus(dst.qmp(), "completed", Duration.ofSeconds(10), src, dst);
            assertThat(digest(dst.qmp())).isEqualTo(digest(src.qmp()));
            assertThat(dst.qmp().execute("qom-get", Map.of("path", "/machine/peripheral/vf0", "property", "x-bytes-loaded")))
                    .isEqualTo(src.qmp().execute("qom-get", Map.of("path", "vf0", "property", "x-bytes-produced")));
        }
    }

    /**
     * Without switchover-ack: at an available switchover bandwidth of 100 MB/s and a 300 ms
     * downtime limit the threshold is 30 MB, so a device owing 64 MiB at stop-copy (≈ 671 ms)
     * must keep the migration in pre-copy and expected-downtime must show it; a 2 s limit
     * (threshold 200 MB) lets it converge. The device's 4 MiB/s of dirty data keeps the
     * bandwidth windows measured.
     */
    @Test
    @Timeout(120)
    void stopCopyDataThatBreaksTheDowntimeLimitKeepsTheMigrationFromConverging() throws Exception {
        String vfio = "vfio-sim,id=vf0,initial-bytes=4M,dirty-rate=4M,stop-copy-bytes=64M,seed=" + seed.seed();
        try (VmProcess src = VmProcess.start(dir, guest(vfio, false).toArray(String[]::new));
             VmProcess dst = VmProcess.start(dir, guest(vfio, false, "-incoming", "tcp:127.0.0.1:0").toArray(String[]::new))) {
            caps(src.qmp(), false);
            caps(dst.qmp(), false);
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 300,
                    "avail-switchover-bandwidth", 100_000_000L));
            src.qmp().execute("migrate", Map.of("uri", incomingUri(dst)));
            awaitStatus(src.qmp(), "active", ACTIVE_TIMEOUT, src, dst);
            Await.until(Duration.ofSeconds(20), () -> num(query(src.qmp()).getOrDefault("expected-downtime", 0)) >= 300,
                    "expected-downtime >= downtime-limit 300 ms");
            holdsFor(Duration.ofSeconds(5), () -> {
                Map<String, Object> q = query(src.qmp());
                assertThat(q.get("status")).as("status %s", q).isEqualTo("active");
                assertThat(num(q.get("expected-downtime"))).as("expected-downtime %s", q).isGreaterThanOrEqualTo(300);
            });
            src.qmp().execute("migrate-set-parameters", Map.of("downtime-limit", 2000));
            awaitStatus(src.qmp(), "completed", Duration.ofSeconds(30), src, dst);
            awaitStatus(dst.qmp(), "completed", Duration.ofSeconds(10), src, dst);
            assertThat(digest(dst.qmp())).isEqualTo(digest(src.qmp()));
        }
    }

    private static String incomingUri(VmProcess dst) {
        @SuppressWarnings("unchecked")
        Map<String, Object> a = ((List<Map<String, Object>>) dst.qmp().executeForMap("query-migrate", Map.of())
                .get("socket-address")).get(0);
        return "tcp:" + a.get("host") + ":" + a.get("port");
    }
}
