package io.livemig.cli;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.qmpclient.QmpErrorException;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * System test: a real {@code livemig vm} process from the shaded jar, driven over QMP like QEMU.
 */
@Timeout(120)
class QmpServerIT {

    private static final Duration T = Duration.ofSeconds(10);
    private static final String[] GUEST = {
            "-machine", "none,memory-backend=mem0", "-m", "64M",
            "-object", "memory-backend-ram,id=mem0,size=64M", "-S", "-name", "it"};

    @TempDir
    Path dir;

    @Test
    void greetingNegotiationAndRunStates() throws Exception {
        try (VmProcess vm = VmProcess.start(dir, GUEST)) {
            JsonNode version = vm.qmp().greeting().path("QMP").path("version");
            assertThat(version.path("qemu").path("major").asInt()).isEqualTo(7);
            assertThat(version.path("qemu").path("minor").asInt()).isEqualTo(2);
            assertThat(version.path("package").asString()).startsWith("livemig ");
            assertThat(vm.qmp().greeting().path("QMP").path("capabilities").toString()).isEqualTo("[\"oob\"]");

            try (QmpClient fresh = vm.connectQmp()) {
                assertThatThrownBy(() -> fresh.execute("query-status"))
                        .isInstanceOfSatisfying(QmpErrorException.class, e -> {
                            assertThat(e.errorClass()).isEqualTo("CommandNotFound");
                            assertThat(e.desc()).isEqualTo("Expecting capabilities negotiation with 'qmp_capabilities'");
                        });
            }

            QmpClient qmp = vm.qmp();
            assertThat(status(qmp)).isEqualTo("prelaunch");
            qmp.execute("cont");
            assertThat(status(qmp)).isEqualTo("running");
            assertRunStateEvent(qmp, "RESUME");
            qmp.execute("stop");
            assertThat(status(qmp)).isEqualTo("paused");
            assertRunStateEvent(qmp, "STOP");
            qmp.execute("cont");
            assertThat(status(qmp)).isEqualTo("running");
            assertThat(qmp.executeForMap("query-name", Map.of())).containsEntry("name", "it");
        }
    }

    /** Awaits the event that goes with a run-state change; QEMU sends STOP and RESUME without {@code data}. */
    private static void assertRunStateEvent(QmpClient qmp, String event) throws TimeoutException {
        JsonNode e = qmp.awaitEvent(event, T);
        assertThat(e.path("timestamp").path("seconds").isNumber()).as(e.toString()).isTrue();
        assertThat(e.path("timestamp").path("microseconds").isNumber()).as(e.toString()).isTrue();
        assertThat(e.has("data")).as(e.toString()).isFalse();
    }

    private static String status(QmpClient qmp) {
        return (String) qmp.executeForMap("query-status", Map.of()).get("status");
    }

    @Test
    void badInputIsAnErrorWhileAnotherClientKeepsWorking() throws Exception {
        try (VmProcess vm = VmProcess.start(dir, GUEST); QmpClient bad = vm.connectQmp()) {
            bad.execute("qmp_capabilities");
            QmpClient good = vm.qmp();

            // a bare word is one bad value; QEMU (and livemig) answer each whitespace-separated word
            expectError(bad, "notjson", "GenericError", "JSON parse error, invalid keyword 'notjson'");
            assertThat(status(good)).isEqualTo("prelaunch");
            expectError(bad, "{\"execute\": \"frobnicate\"}", "CommandNotFound", "The command frobnicate has not been found");
            expectError(bad, "{\"execute\": \"migrate\", \"arguments\": {\"uri\": 42}}", "GenericError",
                    "Invalid parameter type for 'uri', expected: string");
            expectError(bad, "{\"execute\": 1}", "GenericError", "QMP input member 'execute' must be a string");
            assertThat(status(good)).isEqualTo("prelaunch");

            byte[] huge = ("{\"execute\": \"query-status\", \"id\": \"" + "x".repeat(2 << 20) + "\"}\n")
                    .getBytes(StandardCharsets.US_ASCII);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    bad.sendBytes(huge);
                } catch (IOException e) {
                    // the server drops the connection part way through: expected
                }
            });
            assertThat(bad.readReply(T).path("error").path("desc").asString()).startsWith("JSON token size limit exceeded");
            bad.awaitDisconnect(T);
            assertThat(writer.join(T)).isTrue();

            assertThat(status(good)).isEqualTo("prelaunch");
            assertThat(vm.process().isAlive()).isTrue();
        }
    }

    private static void expectError(QmpClient c, String raw, String errorClass, String desc) throws TimeoutException {
        c.sendRaw(raw);
        JsonNode reply = c.readReply(T);
        assertThat(reply.path("error").path("class").asString()).as(raw).isEqualTo(errorClass);
        assertThat(reply.path("error").path("desc").asString()).as(raw).isEqualTo(desc);
    }

    @Test
    void quitExitsZeroAfterShutdownEventAndReply() throws Exception {
        VmProcess vm = VmProcess.start(dir, GUEST);
        try (QmpClient other = vm.connectQmp()) {
            other.execute("qmp_capabilities");
            vm.qmp().execute("quit");
            assertThat(vm.qmp().seenEvents()).extracting(e -> e.path("event").asString()).containsExactly("SHUTDOWN");
            assertThat(other.awaitEvent("SHUTDOWN", T).path("data").path("reason").asString()).isEqualTo("host-qmp-quit");
            assertThat(vm.awaitExit(VmProcess.EXIT_TIMEOUT)).as(vm.output()).isZero();
        } finally {
            vm.close();
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "-m 12X | livemig vm: -m: invalid size '12X' (use k, M, G or T suffixes)",
            "-machine pc | livemig vm: -machine: unsupported machine type 'pc'",
            "-frobnicate | livemig vm: -frobnicate: invalid option",
            "-object memory-backend-ram,id=m | livemig vm: -object: Parameter 'size' is missing",
            "-m 64M -workload target=ram,threads=0 | livemig vm: -workload: threads must be an integer 1..1024, got '0'"})
    void badCommandLineExits1NamingTheOption(String line, String message) throws Exception {
        String[] args = ("vm " + line.trim()).split("\\s+");
        VmProcess.Exit exit = VmProcess.run(dir, Duration.ofSeconds(30), args);
        assertThat(exit.status()).as(exit.output()).isEqualTo(1);
        assertThat(exit.output()).contains(message.trim());
    }

    @Test
    void versionCommand() throws Exception {
        VmProcess.Exit exit = VmProcess.run(dir, Duration.ofSeconds(30), "version");
        assertThat(exit.status()).isZero();
        assertThat(exit.output()).startsWith("livemig ");
    }
}
