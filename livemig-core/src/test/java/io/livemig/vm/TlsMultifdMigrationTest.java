package io.livemig.vm;

import io.livemig.channel.TlsTestCerts;
import io.livemig.guest.RunState;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

import static io.livemig.vm.InProcessMigrationTest.assertSameRam;
import static io.livemig.vm.InProcessMigrationTest.await;
import static io.livemig.vm.InProcessMigrationTest.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * TLS on every multifd channel, and {@code tls-authz}: two guests in one JVM. Matching
 * credentials complete with equal RAM and the pages on the (TLS) multifd channels; every
 * mismatch or refusal fails both sides, leaves the source running with its memory intact (proved
 * by a second, good migration of the same source whose RAM must equal the source's), and the
 * destination inmigrate.
 */
class TlsMultifdMigrationTest {

    private static final long SIZE = 32L << 20;

    static final TlsTestCerts certs = TlsTestCerts.shared();

    private static VirtualMachine source(long seed) throws java.io.IOException {
        WorkloadSpec w = new WorkloadSpec("mem0", 8L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, seed);
        VirtualMachine vm = VirtualMachine.start(config(SIZE, List.of(w), Optional.empty(), false));
        MultifdMigrationTest.fillRandom(vm.memory().find("mem0"), seed);
        return vm;
    }

    private static VirtualMachine destination() throws java.io.IOException {
        return VirtualMachine.start(config(SIZE, List.of(), Optional.of("tcp:127.0.0.1:0"), false));
    }

    private static String port(VirtualMachine dst) {
        return String.valueOf(((io.livemig.channel.MigrationUri.Tcp) dst.incomingAddress().orElseThrow()).port());
    }

    private static void multifd(VirtualMachine vm, String compression) throws VmCommandException {
        vm.setMigrateCapabilities(List.of(Map.of("capability", "multifd", "state", true)));
        vm.setMigrateParameters(Map.of("multifd-channels", 2L, "multifd-compression", compression));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> ram(VirtualMachine vm) {
        return (Map<String, Object>) vm.queryMigrate().getOrDefault("ram", Map.of());
    }

    private static void authz(VirtualMachine dst, String id, String identity) throws VmCommandException {
        dst.objectAdd(Map.of("qom-type", "authz-simple", "id", id, "identity", identity));
        dst.setMigrateParameters(Map.of("tls-authz", id));
    }

    /** Migrates src to dst over tcp:localhost (the server certificate's name) and checks success. */
    private static void completes(VirtualMachine src, VirtualMachine dst, String what) throws VmCommandException {
        src.migrate("tcp:localhost:" + port(dst));
        await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(90), () -> what + ": " + src.queryMigrate());
        assertThat(src.queryMigrate()).as(what).containsEntry("status", "completed");
        await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(20), what + ": destination");
        assertThat(dst.incomingStatus()).as("%s: %s", what, dst.queryMigrate()).isEqualTo(MigrationStatus.COMPLETED);
        assertThat(dst.runState()).isEqualTo(RunState.RUNNING);
        assertSameRam(src, dst);
    }

    @ParameterizedTest(name = "compression={0}")
    @ValueSource(strings = {"none", "zstd"})
    @Timeout(120)
    void multifdOverTlsCompletesWithEqualRam(String compression) throws Exception {
        long seed = new SplittableRandom().nextLong();
        System.out.printf("multifd+TLS %s: seed %d%n", compression, seed);
        try (VirtualMachine src = source(seed); VirtualMachine dst = destination()) {
            multifd(src, compression);
            multifd(dst, compression);
            dst.setMigrateParameters(Map.of("tls-creds", certs.dst.toString()));
            src.setMigrateParameters(Map.of("tls-creds", certs.src.toString(), "max-bandwidth", 0L));
            completes(src, dst, "seed " + seed);
            Map<String, Object> ram = ram(src);
            assertThat((Long) ram.get("multifd-bytes")).as("seed %d: the pages went on the TLS multifd channels: %s", seed, ram)
                    .isGreaterThan(8L << 20);
        }
    }

    @ParameterizedTest(name = "multifd={0}")
    @ValueSource(booleans = {false, true})
    @Timeout(120)
    void tlsAuthzMatchingTheClientDnCompletes(boolean multifd) throws Exception {
        long seed = new SplittableRandom().nextLong();
        try (VirtualMachine src = source(seed); VirtualMachine dst = destination()) {
            if (multifd) {
                multifd(src, "none");
                multifd(dst, "none");
            }
            dst.setMigrateParameters(Map.of("tls-creds", certs.dst.toString()));
            authz(dst, "auth0", TlsTestCerts.SRC_DN);
            assertThat(dst.queryMigrateParameters()).containsEntry("tls-authz", "auth0");
            src.setMigrateParameters(Map.of("tls-creds", certs.src.toString(), "max-bandwidth", 0L));
            completes(src, dst, "seed " + seed);
        }
    }

    @Test
    @Timeout(60)
    void wrongCaWithMultifdFailsBothSides() throws Exception {
        failsBothSides(true, certs.srcOtherCa, Map.of(), null, false,
                "TLS handshake failed: certificate is not signed by the CA in tls-creds", "TLS handshake failed");
    }

    @Test
    @Timeout(60)
    void wrongHostnameWithMultifdFailsBothSides() throws Exception {
        failsBothSides(true, certs.src, Map.of("tls-hostname", "wrong.example"), null, false,
                "TLS handshake failed: certificate does not match hostname 'wrong.example'", "TLS handshake failed");
    }

    @ParameterizedTest(name = "multifd={0}, return-path={1}")
    @CsvSource({"true,false", "false,true", "false,false"})
    @Timeout(60)
    void tlsAuthzRefusesAClientWhoseDnDoesNotMatch(boolean multifd, boolean returnPath) throws Exception {
        // TLS 1.3: the source's handshake ends before the destination checks its certificate, so
        // the source learns of the refusal from its next connection (multifd) or write
        // (multifd: "multifd: cannot open channel 0 …"; else a failed handshake or write, which
        // says what it may mean)
        failsBothSides(multifd, certs.srcOtherName, Map.of(), TlsTestCerts.SRC_DN, returnPath,
                multifd ? "multifd: cannot open channel" : "tls-authz",
                "TLS handshake failed: TLS x509 authz check for " + TlsTestCerts.OTHER_DN + " is denied");
    }

    @Test
    @Timeout(60)
    void anAuthzObjectDeletedAfterTlsAuthzWasSetFailsTheConnectionNamingIt() throws Exception {
        long seed = new SplittableRandom().nextLong();
        try (VirtualMachine src = source(seed); VirtualMachine dst = destination()) {
            dst.setMigrateParameters(Map.of("tls-creds", certs.dst.toString()));
            authz(dst, "auth0", TlsTestCerts.SRC_DN);
            dst.objectDel("auth0");
            src.setMigrateCapabilities(List.of(Map.of("capability", "return-path", "state", true)));
            src.setMigrateParameters(Map.of("tls-creds", certs.src.toString()));
            src.migrate("tcp:localhost:" + port(dst));
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(30), () -> "source: " + src.queryMigrate());
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(30), () -> "destination: " + dst.queryMigrate());
            assertThat(src.queryMigrate()).containsEntry("status", "failed");
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            assertThat((String) dst.queryMigrate().get("error-desc")).contains("Cannot find QAuthZ object ID auth0");
            assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
        }
    }

    @Test
    @Timeout(30)
    void tlsAuthzAndObjectAddAreValidated() throws Exception {
        try (VirtualMachine vm = destination()) {
            assertThat(vm.queryMigrateParameters()).containsEntry("tls-authz", "");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("tls-authz", "nope")))
                    .hasMessageContaining("Parameter 'tls-authz'").hasMessageContaining("Cannot find QAuthZ object ID nope");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("tls-authz", "nope", "tls-hostname", "h")))
                    .hasMessageContaining("nope");
            assertThat(vm.queryMigrateParameters()).as("nothing applied").containsEntry("tls-hostname", "")
                    .containsEntry("tls-authz", "");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("tls-authz", 1L))).hasMessageContaining("expected: string");
            assertThatThrownBy(() -> vm.objectAdd(Map.of("qom-type", "authz-list", "id", "a")))
                    .hasMessageContaining("authz-list").hasMessageContaining("only authz-simple");
            assertThatThrownBy(() -> vm.objectAdd(Map.of("qom-type", "authz-simple", "id", "a")))
                    .hasMessageContaining("Parameter 'identity' is missing");
            Map<String, Object> extra = new LinkedHashMap<>(Map.of("qom-type", "authz-simple", "id", "a", "identity", "CN=x"));
            extra.put("bogus", "1");
            assertThatThrownBy(() -> vm.objectAdd(extra)).hasMessageContaining("Parameter 'bogus' is unexpected");
            assertThatThrownBy(() -> vm.objectAdd(Map.of("qom-type", "authz-simple", "id", "mem0", "identity", "CN=x")))
                    .hasMessageContaining("duplicate property 'mem0'");
            vm.objectAdd(Map.of("qom-type", "authz-simple", "id", "a", "identity", "CN=x"));
            assertThatThrownBy(() -> vm.objectAdd(Map.of("qom-type", "authz-simple", "id", "a", "identity", "CN=y")))
                    .hasMessageContaining("duplicate property 'a'");
            vm.setMigrateParameters(Map.of("tls-authz", "a"));
            assertThat(vm.queryMigrateParameters()).containsEntry("tls-authz", "a");
            vm.setMigrateParameters(Map.of("tls-authz", ""));
            assertThat(vm.queryMigrateParameters()).containsEntry("tls-authz", "");
            assertThatThrownBy(() -> vm.objectDel("mem0")).hasMessageContaining("is in use");
            assertThatThrownBy(() -> vm.objectDel("zz")).hasMessageContaining("object 'zz' not found");
            vm.objectDel("a");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("tls-authz", "a"))).hasMessageContaining("ID a");
        }
    }

    /**
     * One failing migration; then both sides' states, and a second migration of the same source
     * with good credentials (and multifd as before) to a fresh destination whose RAM must equal it.
     */
    private static void failsBothSides(boolean multifd, Path srcCreds, Map<String, Object> srcExtra, String authzIdentity,
                                       boolean returnPath, String srcError, String dstError) throws Exception {
        long seed = new SplittableRandom().nextLong();
        System.out.printf("failing TLS migration: seed %d%n", seed);
        try (VirtualMachine src = source(seed); VirtualMachine dst = destination()) {
            if (multifd) {
                multifd(src, "none");
                multifd(dst, "none");
            }
            if (returnPath) {
                src.setMigrateCapabilities(List.of(Map.of("capability", "return-path", "state", true)));
            }
            dst.setMigrateParameters(Map.of("tls-creds", certs.dst.toString()));
            if (authzIdentity != null) {
                authz(dst, "auth0", authzIdentity);
            }
            src.setMigrateParameters(Map.of("tls-creds", srcCreds.toString()));
            src.setMigrateParameters(srcExtra);
            src.migrate("tcp:localhost:" + port(dst));
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(30), () -> "source: " + src.queryMigrate());
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(30), () -> "destination: " + dst.queryMigrate());
            Map<String, Object> s = src.queryMigrate();
            Map<String, Object> d = dst.queryMigrate();
            System.out.printf("source: %s%ndestination: %s%n", s.get("error-desc"), d.get("error-desc"));
            assertThat(s).as("seed %d: source %s", seed, s).containsEntry("status", "failed");
            assertThat((String) s.get("error-desc")).as("source %s", s).isNotBlank().contains(srcError);
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            assertThat(d).as("destination %s", d).containsEntry("status", "failed");
            assertThat((String) d.get("error-desc")).as("destination %s", d).contains(dstError);
            assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
            try (VirtualMachine dst2 = destination()) {
                if (multifd) {
                    multifd(dst2, "none");
                }
                dst2.setMigrateParameters(Map.of("tls-creds", certs.dst.toString()));
                if (authzIdentity != null) {
                    authz(dst2, "auth0", authzIdentity);
                }
                src.setMigrateParameters(Map.of("tls-creds", certs.src.toString(), "tls-hostname", "", "max-bandwidth", 0L));
                completes(src, dst2, "seed " + seed + ": the retry");
            }
        }
    }
}
