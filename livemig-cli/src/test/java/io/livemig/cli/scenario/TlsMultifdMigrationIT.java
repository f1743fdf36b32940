package io.livemig.cli.scenario;

import io.livemig.channel.TlsTestCerts;
import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.Migrations;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
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
 * Two real processes migrate a live guest with multifd over TLS, the destination started the way
 * a QEMU user would: {@code -object authz-simple,id=auth0,identity=DN} on its command line and
 * {@code tls-creds}, {@code tls-authz} over QMP. An allowed client completes with equal RAM files
 * and the pages on the (TLS) multifd channels; a client whose DN the object does not allow fails
 * both sides, and the source keeps running.
 */
class TlsMultifdMigrationIT {

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private static void multifd(QmpClient q) {
        q.execute("migrate-set-capabilities", Map.of("capabilities", List.of(Map.of("capability", "multifd", "state", true))));
        q.execute("migrate-set-parameters", Map.of("multifd-channels", 2));
    }

    /** QEMU's option syntax doubles the DN's commas. */
    private static String authzObject(String dn) {
        return "authz-simple,id=auth0,identity=" + dn.replace(",", ",,");
    }

    @Test
    @Timeout(180)
    void allowedClientMigratesOverTlsMultifdAndADeniedOneFailsBothSides() throws Exception {
        TlsTestCerts certs = TlsTestCerts.generate(dir.resolve("certs"));
        Path srcRam = dir.resolve("src.ram");
        Path dstRam = dir.resolve("dst.ram");
        Path deniedRam = dir.resolve("denied.ram");
        try (VmProcess src = VmProcess.start(dir, Migrations.concat(Migrations.guest(srcRam, 128),
                Migrations.workload("16M", seed.seed())));
             VmProcess denying = VmProcess.start(dir, Migrations.guest(deniedRam, 128, "-incoming", "tcp:127.0.0.1:0",
                     "-object", authzObject("CN=someone-else,O=livemig test")));
             VmProcess dst = VmProcess.start(dir, Migrations.guest(dstRam, 128, "-incoming", "tcp:127.0.0.1:0",
                     "-object", authzObject(TlsTestCerts.SRC_DN)))) {
            multifd(src.qmp());
            src.qmp().execute("migrate-set-parameters", Map.of("tls-creds", certs.src.toString(), "max-bandwidth", 0));
            for (VmProcess d : List.of(denying, dst)) {
                multifd(d.qmp());
                d.qmp().execute("migrate-set-parameters", Map.of("tls-creds", certs.dst.toString(), "tls-authz", "auth0"));
            }

            // denied: the client certificate's DN is not the object's identity
            src.qmp().execute("migrate", Map.of("uri", "tcp:localhost:" + port(denying.qmp())));
            Map<String, Object> s = Migrations.awaitStatus(src.qmp(), Set.of("completed", "failed", "cancelled"), Duration.ofSeconds(60));
            assertThat(s.get("status")).as("%s%n%s", s, src.output()).isEqualTo("failed");
            Map<String, Object> d = Migrations.awaitStatus(denying.qmp(), Set.of("completed", "failed"), Duration.ofSeconds(30));
            assertThat(d.get("status")).as("%s", denying.output()).isEqualTo("failed");
            assertThat((String) d.get("error-desc")).contains("TLS x509 authz check for " + TlsTestCerts.SRC_DN + " is denied");
            assertThat(Migrations.runState(src.qmp())).isEqualTo("running");
            assertThat(Migrations.runState(denying.qmp())).isEqualTo("inmigrate");

            // allowed: the same source, now to the destination whose object names its DN
            src.qmp().execute("migrate", Map.of("uri", "tcp:localhost:" + port(dst.qmp())));
            Map<String, Object> q = Migrations.awaitStatus(src.qmp(), Set.of("completed", "failed", "cancelled"), Duration.ofSeconds(90));
            assertThat(q.get("status")).as("%s%n%s", q, src.output()).isEqualTo("completed");
            assertThat(Migrations.awaitStatus(dst.qmp(), Set.of("completed", "failed"), Duration.ofSeconds(20)).get("status"))
                    .as("%s", dst.output()).isEqualTo("completed");
            assertThat(Migrations.num(Migrations.ram(q), "multifd-bytes")).as("pages went over TLS multifd: %s", q)
                    .isGreaterThan(16L << 20);
            Migrations.awaitMigrate(src.qmp(), m -> "postmigrate".equals(Migrations.runState(src.qmp())), "source postmigrate",
                    Duration.ofSeconds(5));
            assertThat(Migrations.mismatch(srcRam, dstRam)).as("first differing byte").isEqualTo(-1L);
        }
    }

    /** The destination's port, for a tcp:localhost URI (the test server certificate names localhost). */
    private static String port(QmpClient destination) {
        String uri = Migrations.incomingTcpUri(destination);
        return uri.substring(uri.lastIndexOf(':') + 1);
    }
}
