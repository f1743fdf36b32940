package io.livemig.cli.system;

import io.livemig.cli.testing.Migrations;

import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static io.livemig.cli.testing.Migrations.awaitStatus;
import static io.livemig.cli.testing.Migrations.concat;
import static io.livemig.cli.testing.Migrations.guest;
import static io.livemig.cli.testing.Migrations.mismatch;
import static io.livemig.cli.testing.Migrations.runState;
import static io.livemig.cli.testing.Migrations.workload;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * System test (issue "must show 2"): the other transports. A live 128 MiB guest migrates over a
 * unix socket to a waiting destination; and into a stream file ({@code file:} and
 * {@code exec:cat > FILE}) that a destination started afterwards loads ({@code file:} and
 * {@code exec:cat FILE}). In every case the destination's RAM equals the source's RAM at
 * switchover.
 */
@Timeout(90)
class UnixAndFileMigrationIT {

    private static final Duration MIGRATION_TIMEOUT = Duration.ofSeconds(60);
    private static final long SIZE_MIB = 128;
    private static final Set<String> FINISHED = Set.of("completed", "failed", "cancelled");

    @TempDir
    Path dir;

    @Test
    void unixSocket() throws Exception {
        long seed = Migrations.seed("UnixAndFileMigrationIT.unix");
        Path srcRam = dir.resolve("src.ram");
        Path dstRam = dir.resolve("dst.ram");
        Path sock = dir.resolve("migrate.sock");
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, SIZE_MIB), workload("32M", seed)));
             VmProcess dst = VmProcess.start(dir, guest(dstRam, SIZE_MIB, "-incoming", "unix:" + sock))) {
            assertThat(Migrations.queryMigrate(dst.qmp()).get("socket-address"))
                    .isEqualTo(java.util.List.of(Map.of("type", "unix", "path", sock.toString())));
            src.qmp().execute("migrate", Map.of("uri", "unix:" + sock));
            assertCompleted(src, "source", seed);
            assertCompleted(dst, "destination", seed);
            assertThat(runState(src.qmp())).isEqualTo("postmigrate");
            assertThat(runState(dst.qmp())).isEqualTo("running");
            assertThat(mismatch(srcRam, dstRam)).as("seed %d: first differing byte of guest RAM", seed).isEqualTo(-1L);
        }
    }

    @Test
    void fileThenFreshDestination() throws Exception {
        saveThenLoad("file", "file:" + dir.resolve("stream.bin"), "file:" + dir.resolve("stream.bin"));
    }

    @Test
    void execCatToFileThenExecCatFromFile() throws Exception {
        Path stream = dir.resolve("stream.bin");
        saveThenLoad("exec", "exec:cat > " + stream, "exec:cat " + stream);
    }

    /**
     * A live source saves itself through {@code saveUri} (it pauses at switchover and completes with
     * nobody listening); then a destination started with {@code -incoming loadUri} loads it.
     */
    private void saveThenLoad(String name, String saveUri, String loadUri) throws Exception {
        long seed = Migrations.seed("UnixAndFileMigrationIT." + name);
        Path srcRam = dir.resolve("src.ram");
        Path dstRam = dir.resolve("dst.ram");
        Path stream = dir.resolve("stream.bin");
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, SIZE_MIB), workload("32M", seed)))) {
            assertThat(runState(src.qmp())).isEqualTo("running");
            src.qmp().execute("migrate", Map.of("uri", saveUri));
            assertCompleted(src, "source", seed);
            assertThat(runState(src.qmp())).isEqualTo("postmigrate");
            assertThat(Files.size(stream)).as("stream file").isPositive();

            try (VmProcess dst = VmProcess.start(dir, guest(dstRam, SIZE_MIB, "-incoming", loadUri))) {
                assertCompleted(dst, "destination", seed);
                assertThat(runState(dst.qmp())).isEqualTo("running");
                assertThat(mismatch(srcRam, dstRam)).as("seed %d: first differing byte of guest RAM", seed)
                        .isEqualTo(-1L);
            }
        }
    }

    private static void assertCompleted(VmProcess vm, String side, long seed) throws Exception {
        Map<String, Object> m = awaitStatus(vm.qmp(), FINISHED, MIGRATION_TIMEOUT);
        assertThat(m.get("status")).as("seed %d, %s query-migrate %s, log:\n%s", seed, side, m, vm.output())
                .isEqualTo("completed");
    }
}
