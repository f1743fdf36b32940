package io.livemig.vm;

import io.livemig.channel.TlsTestCerts;
import io.livemig.guest.RunState;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.livemig.vm.InProcessMigrationTest.assertSameRam;
import static io.livemig.vm.InProcessMigrationTest.await;
import static io.livemig.vm.InProcessMigrationTest.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Migration over TLS between two guests in one JVM (QEMU's tls-creds-x509 with verify-peer=on):
 * matching credentials complete with equal RAM; every mismatch fails both sides before any
 * guest state moves, leaving the source running and the destination still inmigrate.
 */
class TlsMigrationTest {

    private static final long SIZE = 32L << 20;

    @TempDir
    static Path root;
    static final TlsTestCerts certs = TlsTestCerts.shared();

    private static VirtualMachine source() throws java.io.IOException {
        WorkloadSpec w = new WorkloadSpec("mem0", 8L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, 11);
        return VirtualMachine.start(config(SIZE, List.of(w), Optional.empty(), false));
    }

    private static VirtualMachine destination() throws java.io.IOException {
        return VirtualMachine.start(config(SIZE, List.of(), Optional.of("tcp:127.0.0.1:0"), false));
    }

    private static String port(VirtualMachine dst) {
        return String.valueOf(((io.livemig.channel.MigrationUri.Tcp) dst.incomingAddress().orElseThrow()).port());
    }

    @ParameterizedTest(name = "return-path={0}")
    @ValueSource(booleans = {false, true})
    @Timeout(120)
    void matchingCredentialsCompleteWithEqualRam(boolean returnPath) throws Exception {
        try (VirtualMachine src = source(); VirtualMachine dst = destination()) {
            dst.setMigrateParameters(Map.of("tls-creds", certs.dst.toString()));
            src.setMigrateParameters(Map.of("tls-creds", certs.src.toString(), "max-bandwidth", 0L));
            if (returnPath) {
                src.setMigrateCapabilities(List.of(Map.of("capability", "return-path", "state", true)));
                dst.setMigrateCapabilities(List.of(Map.of("capability", "return-path", "state", true)));
            }
            // the certificate names localhost: verified against the tcp: URI's host
            src.migrate("tcp:localhost:" + port(dst));
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(90), () -> "source: " + src.queryMigrate());
            assertThat(src.queryMigrate()).containsEntry("status", "completed");
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(10), "destination to finish");
            assertThat(dst.incomingStatus()).as("%s", dst.queryMigrate()).isEqualTo(MigrationStatus.COMPLETED);
            assertThat(dst.runState()).isEqualTo(RunState.RUNNING);
            assertSameRam(src, dst);
        }
    }

    @Test
    @Timeout(60)
    void wrongCaFailsBothSides() throws Exception {
        failsBothSides(certs.srcOtherCa.toString(), certs.dst.toString(), Map.of(),
                "TLS handshake failed: certificate is not signed by the CA in tls-creds", "TLS handshake failed");
    }

    @Test
    @Timeout(60)
    void wrongHostnameFailsBothSides() throws Exception {
        failsBothSides(certs.src.toString(), certs.dst.toString(), Map.of("tls-hostname", "wrong.example"),
                "TLS handshake failed: certificate does not match hostname 'wrong.example'", "TLS handshake failed");
    }

    @Test
    @Timeout(60)
    void anonymousClientIsRefusedByTheDestination() throws Exception {
        // TLS 1.3: the client's handshake ends before the server checks its certificate, so the
        // source learns of the refusal from its first write after the handshake
        failsBothSides(certs.srcAnonymous.toString(), certs.dst.toString(), Map.of(),
                "this source is anonymous", "TLS handshake failed: the peer sent no certificate");
    }

    @Test
    @Timeout(60)
    void anonymousClientWithReturnPathFailsBothSides() throws Exception {
        failsBothSides(certs.srcAnonymous.toString(), certs.dst.toString(), Map.of(), true,
                "this source is anonymous", "TLS handshake failed: the peer sent no certificate");
    }

    @Test
    @Timeout(60)
    void tlsSourceAgainstAPlainDestinationFailsBothSides() throws Exception {
        failsBothSides(certs.src.toString(), "", Map.of(), "TLS handshake failed", "load of migration failed");
    }

    @Test
    @Timeout(60)
    void plainSourceAgainstATlsDestinationFailsBothSides() throws Exception {
        // as in QEMU, only a return path tells the source that a destination rejected the stream:
        // without one, a small guest fits in the socket buffers and the source "completes"
        failsBothSides("", certs.dst.toString(), Map.of(), true,
                "return path", "TLS handshake failed: the peer does not speak TLS");
    }

    private static void failsBothSides(String srcCreds, String dstCreds, Map<String, Object> srcExtra,
                                       String srcError, String dstError) throws Exception {
        failsBothSides(srcCreds, dstCreds, srcExtra, false, srcError, dstError);
    }

    private static void failsBothSides(String srcCreds, String dstCreds, Map<String, Object> srcExtra, boolean returnPath,
                                       String srcError, String dstError) throws Exception {
        try (VirtualMachine src = source(); VirtualMachine dst = destination()) {
            if (returnPath) {
                src.setMigrateCapabilities(List.of(Map.of("capability", "return-path", "state", true)));
            }
            dst.setMigrateParameters(Map.of("tls-creds", dstCreds));
            src.setMigrateParameters(Map.of("tls-creds", srcCreds));
            src.setMigrateParameters(srcExtra);
            src.migrate("tcp:127.0.0.1:" + port(dst));
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(30), () -> "source: " + src.queryMigrate());
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(30), () -> "destination: " + dst.queryMigrate());
            Map<String, Object> s = src.queryMigrate();
            Map<String, Object> d = dst.queryMigrate();
            assertThat(s).as("source %s", s).containsEntry("status", "failed");
            assertThat((String) s.get("error-desc")).as("source %s", s).contains(srcError);
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            assertThat(d).as("destination %s", d).containsEntry("status", "failed");
            assertThat((String) d.get("error-desc")).as("destination %s", d).contains(dstError);
            assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
            // nothing lost: the same source still migrates, with the right credentials, to a new destination
            try (VirtualMachine dst2 = destination()) {
                dst2.setMigrateParameters(Map.of("tls-creds", certs.dst.toString()));
                src.setMigrateParameters(Map.of("tls-creds", certs.src.toString(), "tls-hostname", ""));
                src.migrate("tcp:localhost:" + port(dst2));
                await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(60), () -> "retry: " + src.queryMigrate());
                assertThat(src.queryMigrate()).containsEntry("status", "completed");
                await(() -> dst2.incomingStatus().isFinished(), Duration.ofSeconds(10), "the new destination");
                assertThat(dst2.incomingStatus()).isEqualTo(MigrationStatus.COMPLETED);
                assertSameRam(src, dst2);
            }
        }
    }

    @Test
    @Timeout(30)
    void parametersAreValidatedAndQueried() throws Exception {
        try (VirtualMachine vm = destination()) {
            assertThat(vm.queryMigrateParameters()).containsEntry("tls-creds", "").containsEntry("tls-hostname", "");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("tls-creds", root.resolve("nope").toString())))
                    .hasMessageContaining("Parameter 'tls-creds'").hasMessageContaining("does not exist");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("tls-creds", certs.work.toString(), "tls-hostname", "h")))
                    .hasMessageContaining("has no ca-cert.pem");
            assertThat(vm.queryMigrateParameters()).as("nothing applied").containsEntry("tls-hostname", "");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("tls-hostname", 1L)))
                    .hasMessageContaining("expected: string");
            vm.setMigrateParameters(Map.of("tls-creds", certs.dst.toString(), "tls-hostname", "h"));
            assertThat(vm.queryMigrateParameters()).containsEntry("tls-creds", certs.dst.toString())
                    .containsEntry("tls-hostname", "h");
            vm.setMigrateParameters(Map.of("tls-creds", ""));
            assertThat(vm.queryMigrateParameters()).containsEntry("tls-creds", "");
        }
    }
}
