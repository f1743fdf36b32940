package io.livemig.cli.faults;

import io.livemig.cli.qmpclient.QmpClient;
import tools.jackson.databind.JsonNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;

import static io.livemig.cli.testing.Migrations.incomingTcpUri;

/** Shared steps of the fault system tests. */
final class Faults {

    static final Set<String> FINISHED = Set.of("completed", "failed", "cancelled");

    private Faults() {
    }

    /** Turns the {@code events} capability on (and {@code return-path} as asked). */
    static void capabilities(QmpClient qmp, boolean returnPath) {
        qmp.execute("migrate-set-capabilities", Map.of("capabilities", List.of(
                Map.of("capability", "events", "state", true),
                Map.of("capability", "return-path", "state", returnPath))));
    }

    /**
     * The {@code MIGRATION} statuses the source reports from now until a finished one, in order
     * (needs the {@code events} capability).
     */
    static List<String> statusesUntilFinished(QmpClient qmp, Duration timeout) throws TimeoutException {
        List<String> seen = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
            JsonNode e = qmp.awaitEvent("MIGRATION", left);
            String s = e.path("data").path("status").asString();
            seen.add(s);
            if (FINISHED.contains(s)) {
                return seen;
            }
        }
    }

    /** Arms a destination again with livemig's {@code migrate-incoming} extension; returns its URI. */
    static String rearm(QmpClient destination) {
        destination.execute("migrate-incoming", Map.of("uri", "tcp:127.0.0.1:0"));
        return incomingTcpUri(destination);
    }

    static int port(String tcpUri) {
        return Integer.parseInt(tcpUri.substring(tcpUri.lastIndexOf(':') + 1));
    }
}
