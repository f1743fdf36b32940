package io.livemig.cli.interop;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.Await;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/** QMP steps shared by the interop tests; each works against livemig and QEMU alike. */
final class Migrations {

    private Migrations() {
    }

    /**
     * Polls {@code query-migrate} until its status is {@code completed} and returns that reply.
     * {@code failed} or {@code cancelled} fail at once, with the reply and {@code logs} (the
     * processes' output) in the message.
     */
    static Map<String, Object> awaitCompleted(QmpClient qmp, String who, Duration timeout, Supplier<String> logs)
            throws TimeoutException {
        AtomicReference<Map<String, Object>> last = new AtomicReference<>();
        try {
            Await.until(timeout, () -> {
                Map<String, Object> reply = qmp.executeForMap("query-migrate", Map.of());
                last.set(reply);
                Object status = reply.get("status");
                if ("failed".equals(status) || "cancelled".equals(status)) {
                    throw new AssertionError(who + " migration " + status + ": " + reply + "\n" + logs.get());
                }
                return "completed".equals(status);
            }, who + " query-migrate status completed");
        } catch (TimeoutException e) {
            throw new TimeoutException(e.getMessage() + "; last reply " + last.get() + "\n" + logs.get());
        }
        return last.get();
    }

    /** {@code query-status}'s run state. */
    static String runState(QmpClient qmp) {
        return (String) qmp.executeForMap("query-status", Map.of()).get("status");
    }

    /**
     * Waits for a source's run state after {@code completed}: QEMU sets {@code postmigrate} after
     * the status (migration_iteration_finish runs after migration_completion), and so does
     * livemig, so an immediate {@code query-status} may still see the stopped state in between.
     */
    static void awaitRunState(QmpClient qmp, String who, String state, Duration timeout) throws TimeoutException {
        Await.until(timeout, () -> state.equals(runState(qmp)), who + " query-status " + state);
    }

    static void setCapability(QmpClient qmp, String capability, boolean state) {
        qmp.execute("migrate-set-capabilities",
                Map.of("capabilities", java.util.List.of(Map.of("capability", capability, "state", state))));
    }
}
