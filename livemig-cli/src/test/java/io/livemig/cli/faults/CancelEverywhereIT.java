package io.livemig.cli.faults;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.GuestRamFile;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.livemig.cli.faults.Faults.FINISHED;
import static io.livemig.cli.testing.Migrations.MIB;
import static io.livemig.cli.testing.Migrations.awaitMigrate;
import static io.livemig.cli.testing.Migrations.awaitRamChanges;
import static io.livemig.cli.testing.Migrations.awaitStatus;
import static io.livemig.cli.testing.Migrations.concat;
import static io.livemig.cli.testing.Migrations.guest;
import static io.livemig.cli.testing.Migrations.incomingTcpUri;
import static io.livemig.cli.testing.Migrations.migrationStatus;
import static io.livemig.cli.testing.Migrations.mismatch;
import static io.livemig.cli.testing.Migrations.num;
import static io.livemig.cli.testing.Migrations.ram;
import static io.livemig.cli.testing.Migrations.runState;
import static io.livemig.cli.testing.Migrations.workload;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * System test (issue "Reliability and security", faults 3): {@code migrate_cancel} in every
 * source state — nothing running, setup (towards a blackhole that never reads), active,
 * stop-and-copy ({@code device}, long thanks to a vfio-sim device with 256 MiB of stop-copy data),
 * after completion — each repeated, on one source and one destination armed again after each
 * failure; and {@code quit} on either side during a migration.
 */
@Timeout(150)
class CancelEverywhereIT {

    private static final Duration T = Duration.ofSeconds(15);
    private static final Duration CANCEL_BOUND = Duration.ofSeconds(5);
    private static final long RAM_MIB = 64;
    private static final String[] VFIO = {"-device", "vfio-sim,id=vf0,stop-copy-bytes=256M"};

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private static void cancelTwice(QmpClient qmp) {
        qmp.execute("migrate_cancel");
        qmp.execute("migrate_cancel");
    }

    private static void assertCancelled(VmProcess src, String ctx) throws Exception {
        long t0 = System.nanoTime();
        Map<String, Object> end = awaitStatus(src.qmp(), FINISHED, CANCEL_BOUND);
        System.out.println("CancelEverywhereIT " + ctx + ": " + end.get("status") + " "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms after migrate_cancel");
        assertThat(end.get("status")).as("%s: %s; log:%n%s", ctx, end, src.output()).isEqualTo("cancelled");
        assertThat(runState(src.qmp())).as(ctx).isEqualTo("running");
    }

    private static String assertDestinationFailed(VmProcess dst, String ctx) throws Exception {
        Map<String, Object> end = awaitStatus(dst.qmp(), FINISHED, T);
        assertThat(end.get("status")).as("%s: destination %s", ctx, end).isEqualTo("failed");
        assertThat(runState(dst.qmp())).as(ctx).isEqualTo("inmigrate");
        return Faults.rearm(dst.qmp());
    }

    @Test
    void cancelInEveryState() throws Exception {
        long s = seed.seed();
        Path srcRam = dir.resolve("src.ram");
        GuestRamFile.fill(srcRam, RAM_MIB * MIB, s);
        Path dstRam = dir.resolve("dst.ram");
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, RAM_MIB), workload("4M", s), VFIO));
             VmProcess dst = VmProcess.start(dir, concat(guest(dstRam, RAM_MIB, "-incoming", "tcp:127.0.0.1:0"), VFIO));
             ServerSocket blackhole = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            QmpClient qmp = src.qmp();
            Faults.capabilities(qmp, true);

            // nothing running: a no-op
            cancelTwice(qmp);
            assertThat(migrationStatus(qmp)).isEqualTo("none");
            assertThat(runState(qmp)).isEqualTo("running");

            // setup: the blackhole's backlog accepts the connection, nobody ever reads
            qmp.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + blackhole.getLocalPort()));
            cancelTwice(qmp);
            assertCancelled(src, "setup, seed " + s);

            // active: a migration that cannot converge
            qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 32 * MIB, "downtime-limit", 1));
            String dstUri = incomingTcpUri(dst.qmp());
            qmp.execute("migrate", Map.of("uri", dstUri));
            awaitMigrate(qmp, m -> "active".equals(m.get("status")) && num(ram(m), "transferred") > 4 * MIB,
                    "active with 4 MiB sent", T);
            cancelTwice(qmp);
            assertCancelled(src, "active, seed " + s);
            dstUri = assertDestinationFailed(dst, "active");
            awaitRamChanges(srcRam, dir.resolve("snap.ram"), T, "workload after cancel in active, seed " + s);

            // device (stop-and-copy): cancel on the MIGRATION event, while 256 MiB of device data move
            qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 120_000));
            qmp.execute("migrate", Map.of("uri", dstUri));
            qmp.awaitEvent(e -> e.path("event").asString().equals("MIGRATION")
                    && e.path("data").path("status").asString().equals("device"), "MIGRATION device", T);
            cancelTwice(qmp);
            assertCancelled(src, "device, seed " + s);
            List<String> statuses = qmp.seenEvents().stream().filter(e -> e.path("event").asString().equals("MIGRATION"))
                    .map(e -> e.path("data").path("status").asString()).toList();
            assertThat(statuses).as("the cancel came in stop-and-copy").endsWith("device", "cancelling", "cancelled");
            dstUri = assertDestinationFailed(dst, "device");
            awaitRamChanges(srcRam, dir.resolve("snap.ram"), T, "workload after cancel in device, seed " + s);

            // completed: cancel is a no-op
            qmp.execute("migrate", Map.of("uri", dstUri));
            Map<String, Object> done = awaitStatus(qmp, FINISHED, Duration.ofSeconds(60));
            assertThat(done.get("status")).as("%s; seed %d; log:%n%s", done, s, src.output()).isEqualTo("completed");
            cancelTwice(qmp);
            assertThat(migrationStatus(qmp)).isEqualTo("completed");
            assertThat(runState(qmp)).isEqualTo("postmigrate");
            assertThat(awaitStatus(dst.qmp(), FINISHED, T).get("status")).isEqualTo("completed");
            assertThat(mismatch(srcRam, dstRam)).as("seed %d", s).isEqualTo(-1L);
        }
    }

    @Test
    void quitOnEitherSideDuringMigration() throws Exception {
        long s = seed.seed();
        Path srcRam = dir.resolve("src.ram");
        GuestRamFile.fill(srcRam, RAM_MIB * MIB, s);
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, RAM_MIB), workload("4M", s)));
             VmProcess dst = VmProcess.start(dir, guest(dir.resolve("dst.ram"), RAM_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 32 * MIB, "downtime-limit", 1));
            src.qmp().execute("migrate", Map.of("uri", incomingTcpUri(dst.qmp())));
            awaitMigrate(src.qmp(), m -> "active".equals(m.get("status")) && num(ram(m), "transferred") > 4 * MIB,
                    "active with 4 MiB sent", T);
            dst.qmp().execute("quit");
            assertThat(dst.awaitExit(T)).isZero();
            Map<String, Object> end = awaitStatus(src.qmp(), FINISHED, T);
            assertThat(end.get("status")).as("source after the destination quit: %s; seed %d", end, s).isEqualTo("failed");
            assertThat(runState(src.qmp())).isEqualTo("running");
            awaitRamChanges(srcRam, dir.resolve("snap.ram"), T, "workload after the destination quit, seed " + s);

            try (VmProcess dst2 = VmProcess.start(dir, guest(dir.resolve("dst2.ram"), RAM_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
                src.qmp().execute("migrate", Map.of("uri", incomingTcpUri(dst2.qmp())));
                awaitMigrate(dst2.qmp(), m -> "active".equals(m.get("status")), "destination active", T);
                src.qmp().execute("quit");
                assertThat(src.awaitExit(T)).isZero();
                Map<String, Object> dEnd = awaitStatus(dst2.qmp(), FINISHED, T);
                assertThat(dEnd.get("status")).as("destination after the source quit: %s; seed %d", dEnd, s)
                        .isEqualTo("failed");
                assertThat(runState(dst2.qmp())).isEqualTo("inmigrate");
            }
        }
    }
}
