package io.livemig.cli.qmp;

import io.livemig.cli.testing.Await;
import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.qmpclient.QmpErrorException;
import io.livemig.vm.VirtualMachine;
import io.livemig.vm.VmConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The QMP server in-process, over a real unix socket, against the VirtualMachine facade. */
@Timeout(60)
class QmpServerTest {

    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private VirtualMachine vm;
    private QmpServer server;
    private Path sock;
    private final CountDownLatch quit = new CountDownLatch(1);

    @BeforeEach
    void start() throws Exception {
        vm = VirtualMachine.start(new VmConfig(Optional.of("t"), Optional.empty(), "none", "", List.of(), List.of(),
                true, Optional.empty()));
        sock = dir.resolve("qmp.sock");
        server = QmpServer.start(vm, List.of(new QmpAddress.Unix(sock)), "test", quit::countDown);
    }

    @AfterEach
    void stop() {
        server.close();
        vm.close();
    }

    private QmpClient negotiated() throws Exception {
        return QmpClient.connectAndNegotiate(sock, T);
    }

    @Test
    void socketIsOwnerOnlyAndReplacesAStaleOne() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock))).isEqualTo("rw-------");
        assertThat(Files.list(dir)).containsExactly(sock); // the private bind directory is gone
        server.close();
        Files.writeString(sock, "stale");
        server = QmpServer.start(vm, List.of(new QmpAddress.Unix(sock)), "test", quit::countDown);
        try (QmpClient c = negotiated()) {
            assertThat(c.executeForMap("query-name", Map.of())).containsEntry("name", "t");
        }
    }

    @Test
    void greetingAndNegotiation() throws Exception {
        try (QmpClient c = QmpClient.connectUnix(sock, T)) {
            assertThat(c.greeting().path("QMP").path("version").path("qemu").path("major").asInt()).isEqualTo(7);
            assertThat(c.greeting().path("QMP").path("capabilities").get(0).asString()).isEqualTo("oob");
            assertThatThrownBy(() -> c.execute("query-status"))
                    .isInstanceOfSatisfying(QmpErrorException.class, e -> {
                        assertThat(e.errorClass()).isEqualTo("CommandNotFound");
                        assertThat(e.desc()).isEqualTo("Expecting capabilities negotiation with 'qmp_capabilities'");
                    });
            c.execute("qmp_capabilities");
            assertThat(c.executeForMap("query-status", Map.of()))
                    .containsExactly(Map.entry("status", "prelaunch"), Map.entry("singlestep", false),
                            Map.entry("running", false));
            assertThatThrownBy(() -> c.execute("qmp_capabilities"))
                    .hasMessageContaining("CommandNotFound: Capabilities negotiation is already complete, command ignored");
        }
    }

    @Test
    void objectAddCreatesTheAuthzObjectThatTlsAuthzNames() throws Exception {
        try (QmpClient c = negotiated()) {
            assertThatThrownBy(() -> c.execute("migrate-set-parameters", Map.of("tls-authz", "auth0")))
                    .hasMessageContaining("Parameter 'tls-authz': Cannot find QAuthZ object ID auth0");
            c.execute("object-add", Map.of("qom-type", "authz-simple", "id", "auth0", "identity", "CN=src,O=Example"));
            c.execute("migrate-set-parameters", Map.of("tls-authz", "auth0"));
            assertThat(c.executeForMap("query-migrate-parameters", Map.of())).containsEntry("tls-authz", "auth0");
            assertThatThrownBy(() -> c.execute("object-del", Map.of("id", "nope"))).hasMessageContaining("object 'nope' not found");
            c.execute("object-del", Map.of("id", "auth0"));
            assertThat(c.execute("query-commands").toString()).contains("object-add").contains("object-del");
        }
    }

    /** Each input and the reply QEMU 7.2 gives it (checked against qemu-system-x86_64 7.2). */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "hello | GenericError | JSON parse error, invalid keyword 'hello'",
            "{\"execute\": 1} | GenericError | QMP input member 'execute' must be a string",
            "[1,2] | GenericError | QMP input must be a JSON object",
            "`\"str\"` | GenericError | QMP input must be a JSON object",
            "{} | GenericError | QMP input lacks member 'execute'",
            "{\"foo\":1} | GenericError | QMP input member 'foo' is unexpected",
            "{\"execute\":\"query-status\",\"arguments\":[]} | GenericError | QMP input member 'arguments' must be an object",
            "{\"execute\":\"query-status\",\"arguments\":{\"x\":1}} | GenericError | Parameter 'x' is unexpected",
            "{\"execute\":\"query-status\",\"execute\":\"stop\"} | GenericError | JSON parse error, duplicate key",
            "{\"execute\":\"foo\"} | CommandNotFound | The command foo has not been found",
            "{\"execute\":\"migrate\"} | GenericError | Parameter 'uri' is missing",
            "{\"execute\":\"migrate\",\"arguments\":{\"uri\":1}} | GenericError | Invalid parameter type for 'uri', expected: string",
            "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"x\",\"foo\":1}} | GenericError | Parameter 'foo' is unexpected",
            "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"x\",\"detach\":\"x\"}} | GenericError | Invalid parameter type for 'detach', expected: boolean",
            "{\"execute\":\"migrate-incoming\"} | GenericError | Parameter 'uri' is missing",
            "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{}} | GenericError | Parameter 'capabilities' is missing",
            "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":{}}} | GenericError | Invalid parameter type for 'capabilities', expected: array",
            "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":[{\"capability\":\"xbzrle\"}]}} | GenericError | Parameter 'capabilities[0].state' is missing",
            "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":[1]}} | GenericError | Invalid parameter type for 'capabilities[0]', expected: object",
            "{\"exec-oob\":\"query-status\"} | GenericError | QMP input member 'exec-oob' is unexpected"})
    void badInputGetsQemusError(String input, String errorClass, String desc) throws Exception {
        try (QmpClient c = negotiated()) {
            c.sendRaw(input);
            JsonNode reply = c.readReply(T);
            assertThat(reply.path("error").path("class").asString()).isEqualTo(errorClass);
            assertThat(reply.path("error").path("desc").asString()).isEqualTo(desc);
            assertThat(c.executeForMap("query-status", Map.of())).containsKey("status"); // still served
        }
    }

    @Test
    void idIsEchoedAsGivenAndSingleQuotesAccepted() throws Exception {
        try (QmpClient c = negotiated()) {
            c.sendRaw("{'execute': 'query-name', 'id': {'a': [1, \"\u00e9\"]}}");
            assertThat(c.readReply(T).toString()).isEqualTo("{\"return\":{\"name\":\"t\"},\"id\":{\"a\":[1,\"\u00e9\"]}}");
        }
    }

    @Test
    void rawWireFormatMatchesQemu() throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            ch.write(ByteBuffer.wrap("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-name\",\"id\":\"\u00e9\"}\n"
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            String expected = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7},"
                    + " \"package\": \"livemig test\"}, \"capabilities\": [\"oob\"]}}\r\n"
                    + "{\"return\": {}}\r\n{\"return\": {\"name\": \"t\"}, \"id\": \"\\u00E9\"}\r\n";
            ByteBuffer buf = ByteBuffer.allocate(expected.length());
            while (buf.hasRemaining() && ch.read(buf) > 0) {
                // read exactly the expected length
            }
            assertThat(new String(buf.array(), 0, buf.position(), java.nio.charset.StandardCharsets.US_ASCII))
                    .isEqualTo(expected);
        }
    }

    @Test
    void stopContAndStatus() throws Exception {
        try (QmpClient c = negotiated()) {
            c.execute("cont");
            assertThat(c.executeForMap("query-status", Map.of())).containsEntry("status", "running").containsEntry("running", true);
            c.execute("stop");
            assertThat(c.executeForMap("query-status", Map.of())).containsEntry("status", "paused");
        }
    }

    @Test
    void quitSendsShutdownThenReplyThenRunsTheCallback() throws Exception {
        try (QmpClient c = negotiated(); QmpClient other = negotiated()) {
            c.execute("quit");
            assertThat(c.seenEvents()).hasSize(1);
            JsonNode shutdown = c.seenEvents().getFirst();
            assertThat(shutdown.path("event").asString()).isEqualTo("SHUTDOWN");
            assertThat(shutdown.path("data").toString()).isEqualTo("{\"guest\":false,\"reason\":\"host-qmp-quit\"}");
            assertThat(other.awaitEvent("SHUTDOWN", T).path("timestamp").has("microseconds")).isTrue();
            assertThat(quit.await(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void eventsGoToNegotiatedClientsOnly() throws Exception {
        try (QmpClient a = negotiated(); QmpClient b = QmpClient.connectUnix(sock, T)) {
            server.onVmEvent("STOP", Map.of());
            server.onVmEvent("MIGRATION", Map.of("status", "setup"));
            JsonNode stop = a.awaitEvent("STOP", T);
            assertThat(stop.has("data")).isFalse(); // QEMU omits an empty data
            assertThat(a.awaitEvent("MIGRATION", T).path("data").path("status").asString()).isEqualTo("setup");
            b.execute("qmp_capabilities"); // replies are ordered after any event queued before them
            assertThat(b.seenEvents()).isEmpty();
        }
    }

    @Test
    void oversizeRequestDropsOnlyThatClient() throws Exception {
        try (QmpClient big = negotiated(); QmpClient other = negotiated()) {
            byte[] line = ("{\"execute\":\"query-name\",\"id\":\"" + "x".repeat(2 << 20) + "\"}\n").getBytes();
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    big.sendBytes(line);
                } catch (java.io.IOException e) {
                    // the server closed the connection part way: expected
                }
            });
            JsonNode reply = big.readReply(T);
            assertThat(reply.path("error").path("desc").asString()).startsWith("JSON token size limit exceeded");
            big.awaitDisconnect(T);
            writer.join(T);
            assertThat(other.executeForMap("query-name", Map.of())).containsEntry("name", "t");
        }
    }

    @Test
    void deepNestingIsAnErrorAndTheClientCarriesOn() throws Exception {
        try (QmpClient c = negotiated()) {
            c.sendRaw("[".repeat(100) + "]".repeat(100));
            assertThat(c.readReply(T).path("error").path("desc").asString()).isEqualTo("JSON nesting depth limit exceeded");
            assertThat(c.executeForMap("query-name", Map.of())).containsEntry("name", "t");
        }
    }

    @Test
    void aClientThatDoesNotReadIsDroppedWithoutBlockingTheVmThreadOrOthers() throws Exception {
        try (SocketChannel stuck = SocketChannel.open(StandardProtocolFamily.UNIX); QmpClient other = negotiated()) {
            stuck.connect(UnixDomainSocketAddress.of(sock));
            stuck.write(ByteBuffer.wrap("{\"execute\":\"qmp_capabilities\"}\n".getBytes()));
            Await.until(T, () -> server.clientCount() == 2, "both clients connected");
            Map<String, Object> data = Map.of("blob", "y".repeat(64 * 1024));
            // the stuck client never reads: its socket buffer fills, then its outbox, then it is dropped
            for (int i = 0; i < QmpSession.OUTBOX_CAPACITY * 4 && server.clientCount() == 2; i++) {
                server.onVmEvent("MIGRATION_PASS", data);
                // keep the reading client drained so that only the stuck one falls behind
                other.awaitEvent("MIGRATION_PASS", T);
            }
            Await.until(T, () -> server.clientCount() == 1, "stuck client dropped");
            assertThat(other.executeForMap("query-name", Map.of())).containsEntry("name", "t");
        }
    }

    @Test
    void manyConcurrentClients() throws Exception {
        int n = 32;
        List<Thread> threads = new java.util.ArrayList<>();
        java.util.concurrent.ConcurrentLinkedQueue<Throwable> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
        for (int i = 0; i < n; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try (QmpClient c = negotiated()) {
                    for (int k = 0; k < 50; k++) {
                        assertThat(c.executeForMap("query-name", Map.of())).containsEntry("name", "t");
                    }
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        for (Thread t : threads) {
            assertThat(t.join(Duration.ofSeconds(30))).isTrue();
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void tcpListener() throws Exception {
        QmpServer tcp = QmpServer.start(vm, List.of(new QmpAddress.Tcp("127.0.0.1", 0)), "test", () -> { });
        try {
            int port = tcp.boundPorts().getFirst();
            try (QmpClient c = QmpClient.connectTcp("127.0.0.1", port, T)) {
                c.execute("qmp_capabilities");
                assertThat(c.execute("query-commands")).asString().contains("migrate-set-parameters");
            }
        } finally {
            tcp.close();
        }
    }
}
