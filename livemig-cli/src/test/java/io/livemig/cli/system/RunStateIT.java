package io.livemig.cli.system;

import io.livemig.cli.testing.Migrations;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static io.livemig.cli.testing.Migrations.awaitRamChanges;
import static io.livemig.cli.testing.Migrations.awaitStatus;
import static io.livemig.cli.testing.Migrations.concat;
import static io.livemig.cli.testing.Migrations.guest;
import static io.livemig.cli.testing.Migrations.incomingTcpUri;
import static io.livemig.cli.testing.Migrations.mismatch;
import static io.livemig.cli.testing.Migrations.runState;
import static io.livemig.cli.testing.Migrations.workload;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * System test (issue 3 "must show 3"): run states and their events across a migration, as QEMU
 * reports them. A source started with {@code -S} is {@code prelaunch}; {@code cont} and
 * {@code stop} move it with {@code RESUME} and {@code STOP}. A destination is {@code inmigrate}
 * until the migration completes, its own vCPU workload parked; then it runs (autostart) or, with
 * {@code -S}, is {@code paused} until {@code cont}. The source ends {@code postmigrate}.
 */
@Timeout(90)
class RunStateIT {

    private static final Duration T = Duration.ofSeconds(10);
    private static final Duration MIGRATION_TIMEOUT = Duration.ofSeconds(60);
    private static final long SIZE_MIB = 64;
    private static final Set<String> FINISHED = Set.of("completed", "failed", "cancelled");

    @TempDir
    Path dir;

    @Test
    void prelaunchContStopWithEvents() throws Exception {
        long seed = Migrations.seed("RunStateIT.prelaunch");
        Path ram = dir.resolve("src.ram");
        try (VmProcess vm = VmProcess.start(dir, concat(guest(ram, SIZE_MIB, "-S"), workload("16M", seed)))) {
            QmpClient qmp = vm.qmp();
            assertThat(runState(qmp)).isEqualTo("prelaunch");
            assertThat(qmp.executeForMap("query-status", Map.of())).containsEntry("running", false);
            qmp.execute("cont");
            assertThat(runState(qmp)).isEqualTo("running");
            assertThat(qmp.executeForMap("query-status", Map.of())).containsEntry("running", true);
            qmp.awaitEvent("RESUME", T);
            awaitRamChanges(ram, dir.resolve("snapshot.ram"), T, "the workload runs after cont, seed " + seed);
            qmp.execute("stop");
            assertThat(runState(qmp)).isEqualTo("paused");
            qmp.awaitEvent("STOP", T);
            assertThat(qmp.seenEvents()).extracting(e -> e.path("event").asString()).containsExactly("RESUME", "STOP");
        }
    }

    /** Autostart: the destination runs after the migration and its own workload starts dirtying memory. */
    @Test
    void destinationRunsItsWorkloadAfterMigration() throws Exception {
        long seed = Migrations.seed("RunStateIT.autostart");
        Path dstRam = dir.resolve("dst.ram");
        try (VmProcess src = VmProcess.start(dir, concat(guest(dir.resolve("src.ram"), SIZE_MIB), workload("16M", seed)));
             VmProcess dst = VmProcess.start(dir, concat(guest(dstRam, SIZE_MIB, "-incoming", "tcp:127.0.0.1:0"),
                     workload("16M", seed + 1)))) {
            assertThat(runState(dst.qmp())).isEqualTo("inmigrate");
            src.qmp().execute("migrate", Map.of("uri", incomingTcpUri(dst.qmp())));
            assertCompleted(src, seed);
            assertCompleted(dst, seed);
            assertThat(runState(src.qmp())).isEqualTo("postmigrate");
            assertThat(runState(dst.qmp())).isEqualTo("running");
            dst.qmp().awaitEvent("RESUME", T);
            src.qmp().awaitEvent("STOP", T);
            awaitRamChanges(dstRam, dir.resolve("snapshot.ram"), T, "the destination's workload runs, seed " + seed);
        }
    }

    /**
     * {@code -S} on the destination: paused after the migration with exactly the source's RAM (its
     * workload stayed parked all along), then {@code cont} runs it and its workload resumes.
     */
    @Test
    void destinationWithDashSIsPausedUntilCont() throws Exception {
        long seed = Migrations.seed("RunStateIT.dashS");
        Path srcRam = dir.resolve("src.ram");
        Path dstRam = dir.resolve("dst.ram");
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, SIZE_MIB), workload("16M", seed)));
             VmProcess dst = VmProcess.start(dir, concat(guest(dstRam, SIZE_MIB, "-S", "-incoming", "tcp:127.0.0.1:0"),
                     workload("16M", seed + 1)))) {
            assertThat(runState(dst.qmp())).isEqualTo("inmigrate");
            src.qmp().execute("migrate", Map.of("uri", incomingTcpUri(dst.qmp())));
            assertCompleted(src, seed);
            assertCompleted(dst, seed);
            assertThat(runState(src.qmp())).isEqualTo("postmigrate");
            assertThat(runState(dst.qmp())).isEqualTo("paused");
            assertThat(mismatch(srcRam, dstRam))
                    .as("seed %d: the paused destination holds exactly the source's RAM (first differing byte)", seed)
                    .isEqualTo(-1L);

            dst.qmp().execute("cont");
            assertThat(runState(dst.qmp())).isEqualTo("running");
            dst.qmp().awaitEvent("RESUME", T);
            awaitRamChanges(dstRam, dir.resolve("snapshot.ram"), T, "the destination's workload resumes after cont, seed " + seed);
            assertThat(runState(src.qmp())).isEqualTo("postmigrate");
        }
    }

    private static void assertCompleted(VmProcess vm, long seed) throws Exception {
        Map<String, Object> m = awaitStatus(vm.qmp(), FINISHED, MIGRATION_TIMEOUT);
        assertThat(m.get("status")).as("seed %d, query-migrate %s, log:\n%s", seed, m, vm.output()).isEqualTo("completed");
    }
}
