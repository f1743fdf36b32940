package io.livemig.cli.faults;

import io.livemig.cli.faults.FaultProxy.Fault;
import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.GuestRamFile;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static io.livemig.cli.faults.Faults.FINISHED;
import static io.livemig.cli.testing.Migrations.MIB;
import static io.livemig.cli.testing.Migrations.awaitMigrate;
import static io.livemig.cli.testing.Migrations.awaitRamChanges;
import static io.livemig.cli.testing.Migrations.awaitStatus;
import static io.livemig.cli.testing.Migrations.concat;
import static io.livemig.cli.testing.Migrations.guest;
import static io.livemig.cli.testing.Migrations.incomingTcpUri;
import static io.livemig.cli.testing.Migrations.mismatch;
import static io.livemig.cli.testing.Migrations.num;
import static io.livemig.cli.testing.Migrations.ram;
import static io.livemig.cli.testing.Migrations.runState;
import static io.livemig.cli.testing.Migrations.workload;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * System test (issue "Reliability and security", faults 2): a peer process dies (SIGKILL) or hangs
 * mid-migration. The surviving side ends in a clear state within a bound and is usable again.
 * A hanging peer — the proxy stops forwarding but keeps both connections open — would block QEMU
 * forever; livemig's {@code x-stall-timeout} fails both sides.
 */
@Timeout(120)
class KillAndStallIT {

    private static final Duration T = Duration.ofSeconds(15);
    private static final long RAM_MIB = 64;
    /** the survivor must notice a dead peer this fast: the kernel resets the connection at once */
    private static final Duration DEAD_PEER_BOUND = Duration.ofSeconds(10);

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private Path sourceRam(long s) throws Exception {
        Path ram = dir.resolve("src.ram");
        GuestRamFile.fill(ram, RAM_MIB * MIB, s);
        return ram;
    }

    /** A migration that does not converge: 1 ms downtime limit against a writing guest. */
    private static void neverConverge(QmpClient qmp, long maxBandwidth) {
        qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", maxBandwidth, "downtime-limit", 1));
    }

    private static void completeInto(VmProcess src, Path srcRam, Path freshRam, String why) throws Exception {
        try (VmProcess fresh = VmProcess.start(freshRam.getParent(), guest(freshRam, RAM_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 300));
            src.qmp().execute("migrate", Map.of("uri", incomingTcpUri(fresh.qmp())));
            Map<String, Object> done = awaitStatus(src.qmp(), FINISHED, Duration.ofSeconds(60));
            assertThat(done.get("status")).as("migration after the fault: %s; %s; log:%n%s", done, why, src.output())
                    .isEqualTo("completed");
            assertThat(mismatch(srcRam, freshRam)).as("first differing byte of guest RAM; " + why).isEqualTo(-1L);
        }
    }

    @Test
    void destinationKilledTheSourceFailsAndMigratesAgain() throws Exception {
        long s = seed.seed();
        Path srcRam = sourceRam(s);
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, RAM_MIB), workload("4M", s)));
             VmProcess dst = VmProcess.start(dir, guest(dir.resolve("dst.ram"), RAM_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
            QmpClient qmp = src.qmp();
            Faults.capabilities(qmp, true);
            neverConverge(qmp, 32 * MIB);
            qmp.execute("migrate", Map.of("uri", incomingTcpUri(dst.qmp())));
            awaitMigrate(qmp, m -> "active".equals(m.get("status")) && num(ram(m), "transferred") > 8 * MIB,
                    "active with 8 MiB sent", T);
            long t0 = System.nanoTime();
            dst.process().destroyForcibly();   // SIGKILL
            Map<String, Object> end = awaitStatus(qmp, FINISHED, DEAD_PEER_BOUND);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.println("KillAndStallIT destination killed: source " + end + " after " + ms + " ms");
            assertThat(end.get("status")).as("%s; log:%n%s", end, src.output()).isEqualTo("failed");
            assertThat(runState(qmp)).isEqualTo("running");
            awaitRamChanges(srcRam, dir.resolve("snap.ram"), T, "workload after the destination died, seed " + s);
            completeInto(src, srcRam, dir.resolve("fresh.ram"), "seed " + s);
        }
    }

    @Test
    void sourceKilledTheDestinationFailsAndCanListenAgain() throws Exception {
        long s = seed.seed();
        Path srcRam = sourceRam(s);
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, RAM_MIB), workload("4M", s)));
             VmProcess dst = VmProcess.start(dir, guest(dir.resolve("dst.ram"), RAM_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
            neverConverge(src.qmp(), 32 * MIB);
            src.qmp().execute("migrate", Map.of("uri", incomingTcpUri(dst.qmp())));
            awaitMigrate(dst.qmp(), m -> "active".equals(m.get("status")), "destination active", T);
            awaitMigrate(src.qmp(), m -> "active".equals(m.get("status")) && num(ram(m), "transferred") > 8 * MIB,
                    "active with 8 MiB sent", T);
            long t0 = System.nanoTime();
            src.process().destroyForcibly();   // SIGKILL
            Map<String, Object> end = awaitStatus(dst.qmp(), FINISHED, DEAD_PEER_BOUND);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.println("KillAndStallIT source killed: destination " + end + " after " + ms + " ms");
            assertThat(end.get("status")).as("%s; log:%n%s", end, dst.output()).isEqualTo("failed");
            assertThat(runState(dst.qmp())).isEqualTo("inmigrate");

            // usable again: it listens anew and takes a whole migration from another source
            String uri = Faults.rearm(dst.qmp());
            assertThat(Faults.port(uri)).isPositive();
            Path src2Ram = dir.resolve("src2.ram");
            GuestRamFile.fill(src2Ram, RAM_MIB * MIB, s + 1);
            try (VmProcess src2 = VmProcess.start(dir, guest(src2Ram, RAM_MIB))) {
                src2.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 0));
                src2.qmp().execute("migrate", Map.of("uri", uri));
                assertThat(awaitStatus(src2.qmp(), FINISHED, Duration.ofSeconds(60)).get("status")).isEqualTo("completed");
                assertThat(awaitStatus(dst.qmp(), FINISHED, T).get("status")).isEqualTo("completed");
                assertThat(runState(dst.qmp())).isEqualTo("running");
                assertThat(mismatch(src2Ram, dir.resolve("dst.ram"))).as("seed %d", s).isEqualTo(-1L);
            }
        }
    }

    /**
     * The proxy stops forwarding after a seeded number of bytes and holds both connections: the
     * source's writes block, the destination's reads wait. Both have {@code x-stall-timeout=2000}
     * and must fail within a few seconds of it, the source running on. A third process, listening
     * with {@code x-stall-timeout=1000} since the start, is not timed out by waiting for a source,
     * and takes the migration that follows.
     */
    @Test
    void stalledPeerFailsBothSidesAfterTheStallTimeout() throws Exception {
        long s = seed.seed();
        long after = 2 * MIB + new SplittableRandom(s).nextLong(14 * MIB);
        Path srcRam = sourceRam(s);
        Path waitingRam = dir.resolve("waiting.ram");
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, RAM_MIB), workload("4M", s)));
             VmProcess dst = VmProcess.start(dir, guest(dir.resolve("dst.ram"), RAM_MIB, "-incoming", "tcp:127.0.0.1:0"));
             VmProcess waiting = VmProcess.start(dir, guest(waitingRam, RAM_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
            long waitingSince = System.nanoTime();
            waiting.qmp().execute("migrate-set-parameters", Map.of("x-stall-timeout", 1000));
            QmpClient qmp = src.qmp();
            Faults.capabilities(qmp, true);
            qmp.execute("migrate-set-parameters", Map.of("x-stall-timeout", 2000));
            dst.qmp().execute("migrate-set-parameters", Map.of("x-stall-timeout", 2000));
            assertThat(qmp.executeForMap("query-migrate-parameters", Map.of()).get("x-stall-timeout")).isEqualTo(2000);
            neverConverge(qmp, 0);
            String why = "stall after " + after + " bytes, seed " + s;
            try (FaultProxy proxy = FaultProxy.start(Faults.port(incomingTcpUri(dst.qmp())), Fault.STALL, after)) {
                qmp.execute("migrate", Map.of("uri", proxy.uri()));
                proxy.awaitFault(T);
                long t0 = System.nanoTime();
                Map<String, Object> end = awaitStatus(qmp, FINISHED, T);
                long srcMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                Map<String, Object> dEnd = awaitStatus(dst.qmp(), FINISHED, T);
                long dstMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                System.out.println("KillAndStallIT " + why + ": source " + end + " " + srcMs + " ms after the stall; "
                        + "destination " + dEnd + " " + dstMs + " ms after");
                assertThat(end.get("status")).as("%s; %s; log:%n%s", end, why, src.output()).isEqualTo("failed");
                assertThat((String) end.get("error-desc")).isEqualTo("migration stalled: no progress for 2 s");
                assertThat(runState(qmp)).isEqualTo("running");
                assertThat(dEnd.get("status")).as("%s; %s", dEnd, why).isEqualTo("failed");
                assertThat((String) dEnd.get("error-desc")).contains("migration stalled: no progress for 2 s");
                assertThat(runState(dst.qmp())).isEqualTo("inmigrate");
            }
            awaitRamChanges(srcRam, dir.resolve("snap.ram"), T, "workload after the stall; " + why);

            // the idle destination outlived its own stall timeout while waiting for a connection
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - waitingSince)).isGreaterThan(2000);
            assertThat(awaitStatus(waiting.qmp(), java.util.Set.of("setup"), T).get("status")).isEqualTo("setup");
            qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 300));
            qmp.execute("migrate", Map.of("uri", incomingTcpUri(waiting.qmp())));
            Map<String, Object> done = awaitStatus(qmp, FINISHED, Duration.ofSeconds(60));
            assertThat(done.get("status")).as("%s; %s", done, why).isEqualTo("completed");
            assertThat(mismatch(srcRam, waitingRam)).as(why).isEqualTo(-1L);
        }
    }
}
