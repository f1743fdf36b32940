package io.livemig.cli.system;

import io.livemig.cli.testing.Migrations;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.qmpclient.QmpErrorException;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static io.livemig.cli.testing.Migrations.BAD_PROTOCOL;
import static io.livemig.cli.testing.Migrations.MIB;
import static io.livemig.cli.testing.Migrations.awaitRamChanges;
import static io.livemig.cli.testing.Migrations.awaitStatus;
import static io.livemig.cli.testing.Migrations.concat;
import static io.livemig.cli.testing.Migrations.guest;
import static io.livemig.cli.testing.Migrations.incomingTcpUri;
import static io.livemig.cli.testing.Migrations.mismatch;
import static io.livemig.cli.testing.Migrations.runState;
import static io.livemig.cli.testing.Migrations.workload;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * System test (issue "must show 4"): a migration that cannot start fails cleanly and leaves the
 * guest as it was. A refused connection ends {@code failed} with an {@code error-desc} naming the
 * address and the refusal, the guest keeps running, and the next migration completes; a bad URI
 * and a second concurrent {@code migrate} are QMP errors worded as QEMU words them.
 */
@Timeout(90)
class BadDestinationIT {

    private static final Duration T = Duration.ofSeconds(10);
    private static final long SIZE_MIB = 64;
    private static final Set<String> FINISHED = Set.of("completed", "failed", "cancelled");

    @TempDir
    Path dir;

    @Test
    void refusedConnectionFailsAndTheGuestMigratesLater() throws Exception {
        long seed = Migrations.seed("BadDestinationIT.refused");
        Path srcRam = dir.resolve("src.ram");
        Path dstRam = dir.resolve("dst.ram");
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, SIZE_MIB), workload("16M", seed)))) {
            QmpClient qmp = src.qmp();
            qmp.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + closedPort));
            Map<String, Object> failed = awaitStatus(qmp, FINISHED, T);
            assertThat(failed.get("status")).as("%s; log:\n%s", failed, src.output()).isEqualTo("failed");
            assertThat((String) failed.get("error-desc")).as("error-desc")
                    .contains("127.0.0.1:" + closedPort).containsIgnoringCase("connection refused");
            assertThat(runState(qmp)).isEqualTo("running");
            awaitRamChanges(srcRam, dir.resolve("snapshot.ram"), T, "the workload runs after the failed migrate, seed " + seed);

            try (VmProcess dst = VmProcess.start(dir, guest(dstRam, SIZE_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
                // slow enough that it is still running when the second migrate comes
                qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", MIB, "downtime-limit", 1));
                qmp.execute("migrate", Map.of("uri", incomingTcpUri(dst.qmp())));
                assertThat(Migrations.migrationStatus(qmp)).isIn("setup", "active");
                assertThatThrownBy(() -> qmp.execute("migrate", Map.of("uri", incomingTcpUri(dst.qmp()))))
                        .isInstanceOfSatisfying(QmpErrorException.class, e -> {
                            assertThat(e.errorClass()).isEqualTo("GenericError");
                            assertThat(e.desc()).isEqualTo("There's a migration process in progress");
                        });
                // a new limit applies to the running migration
                qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 300));
                Map<String, Object> done = awaitStatus(qmp, FINISHED, Duration.ofSeconds(60));
                assertThat(done.get("status")).as("%s; seed %d; log:\n%s", done, seed, src.output()).isEqualTo("completed");
                assertThat(done).doesNotContainKey("error-desc");
                assertThat(awaitStatus(dst.qmp(), FINISHED, T).get("status")).isEqualTo("completed");
                assertThat(runState(dst.qmp())).isEqualTo("running");
                assertThat(mismatch(srcRam, dstRam)).as("seed %d: first differing byte of guest RAM", seed).isEqualTo(-1L);
            }
        }
    }

    @Test
    void missingUnixSocketFailsNamingThePath() throws Exception {
        Path missing = dir.resolve("nobody-listens.sock");
        try (VmProcess src = VmProcess.start(dir, guest(dir.resolve("src.ram"), SIZE_MIB))) {
            src.qmp().execute("migrate", Map.of("uri", "unix:" + missing));
            Map<String, Object> failed = awaitStatus(src.qmp(), FINISHED, T);
            assertThat(failed.get("status")).as("%s; log:\n%s", failed, src.output()).isEqualTo("failed");
            assertThat((String) failed.get("error-desc")).as("error-desc").contains(missing.toString());
            assertThat(runState(src.qmp())).isEqualTo("running");
        }
    }

    @Test
    void unknownSchemeIsAQmpError() throws Exception {
        try (VmProcess src = VmProcess.start(dir, guest(dir.resolve("src.ram"), SIZE_MIB))) {
            assertThatThrownBy(() -> src.qmp().execute("migrate", Map.of("uri", "foo:bar")))
                    .isInstanceOfSatisfying(QmpErrorException.class, e -> {
                        assertThat(e.errorClass()).isEqualTo("GenericError");
                        assertThat(e.desc()).isEqualTo(BAD_PROTOCOL);
                    });
            assertThat(Migrations.migrationStatus(src.qmp())).isEqualTo("none");
            assertThat(runState(src.qmp())).isEqualTo("running");
        }
    }
}
