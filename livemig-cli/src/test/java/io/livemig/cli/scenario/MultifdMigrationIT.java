package io.livemig.cli.scenario;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.Migrations;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two real processes migrate a live guest over TCP with multifd (two extra connections), plain
 * and zstd: the destination's RAM file equals the source's, and the page bytes went over the
 * multifd channels ({@code ram.multifd-bytes}).
 */
class MultifdMigrationIT {

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private static void multifd(QmpClient q, String compression) {
        q.execute("migrate-set-capabilities", Map.of("capabilities", List.of(Map.of("capability", "multifd", "state", true))));
        q.execute("migrate-set-parameters", Map.of("multifd-channels", 2, "multifd-compression", compression));
    }

    @ParameterizedTest(name = "multifd-compression={0}")
    @ValueSource(strings = {"none", "zstd"})
    @Timeout(120)
    void liveGuestOverTwoChannels(String compression) throws Exception {
        Path srcRam = dir.resolve("src-" + compression + ".ram");
        Path dstRam = dir.resolve("dst-" + compression + ".ram");
        try (VmProcess src = VmProcess.start(dir, Migrations.concat(Migrations.guest(srcRam, 128),
                Migrations.workload("16M", seed.seed())));
             VmProcess dst = VmProcess.start(dir, Migrations.guest(dstRam, 128, "-incoming", "tcp:127.0.0.1:0"))) {
            multifd(src.qmp(), compression);
            multifd(dst.qmp(), compression);
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 0));
            src.qmp().execute("migrate", Map.of("uri", Migrations.incomingTcpUri(dst.qmp())));
            Map<String, Object> q = Migrations.awaitStatus(src.qmp(), Set.of("completed", "failed", "cancelled"), Duration.ofSeconds(60));
            assertThat(q.get("status")).as("%s%n%s", q, src.output()).isEqualTo("completed");
            assertThat(Migrations.awaitStatus(dst.qmp(), Set.of("completed", "failed"), Duration.ofSeconds(10)).get("status"))
                    .as("%s", dst.output()).isEqualTo("completed");
            assertThat(Migrations.num(Migrations.ram(q), "multifd-bytes")).as("pages went over multifd: %s", q).isPositive();
            Migrations.awaitMigrate(src.qmp(), m -> "postmigrate".equals(Migrations.runState(src.qmp())), "source postmigrate",
                    Duration.ofSeconds(5));
            assertThat(Migrations.mismatch(srcRam, dstRam)).as("first differing byte").isEqualTo(-1L);
        }
    }
}
