package io.livemig.cli.testing;

import io.livemig.cli.qmpclient.QmpClient;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

/**
 * Shared pieces of the two-process system tests: guest command lines with file-backed RAM (so a
 * test compares guest memory as files), and waits on {@code query-migrate} / {@code query-status}
 * that poll every {@value #POLL_MS} ms under a hard timeout.
 */
public final class Migrations {

    public static final long MIB = 1L << 20;
    public static final long POLL_MS = 50;
    /** The QMP {@code migrate} error QEMU gives for an unknown scheme. */
    public static final String BAD_PROTOCOL = "Parameter 'uri' expects a valid migration protocol";

    private Migrations() {
    }

    /**
     * A fresh seed for a guest workload, from {@code -Dlivemig.it.seed} when set (to replay a
     * failure), printed so a failing run can be replayed.
     */
    public static long seed(String test) {
        long seed = Long.getLong("livemig.it.seed", ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE));
        System.out.println(test + ": workload seed " + seed + " (replay with -Dlivemig.it.seed=" + seed + ")");
        return seed;
    }

    /**
     * Arguments of a guest whose RAM (backend {@code mem0}) is the file {@code ramFile}, shared, so
     * the test reads guest memory as the file; {@code extra} follows.
     */
    public static String[] guest(Path ramFile, long sizeMiB, String... extra) {
        String size = sizeMiB + "M";
        List<String> a = new ArrayList<>(List.of(
                "-machine", "none,memory-backend=mem0", "-m", size,
                "-object", "memory-backend-file,id=mem0,size=" + size + ",mem-path=" + ramFile + ",share=on"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    /** {@code -workload target=mem0,dirty-rate=RATE,pattern=random,seed=SEED}. */
    public static String[] workload(String dirtyRate, long seed) {
        return new String[]{"-workload", "target=mem0,dirty-rate=" + dirtyRate + ",pattern=random,seed=" + seed};
    }

    public static String[] concat(String[]... parts) {
        List<String> all = new ArrayList<>();
        for (String[] p : parts) {
            all.addAll(List.of(p));
        }
        return all.toArray(String[]::new);
    }

    public static Map<String, Object> queryMigrate(QmpClient qmp) {
        return qmp.executeForMap("query-migrate", Map.of());
    }

    /** The {@code status} of {@code query-migrate}, or {@code "none"} when it has none (QEMU omits it). */
    public static String migrationStatus(QmpClient qmp) {
        Object s = queryMigrate(qmp).get("status");
        return s == null ? "none" : (String) s;
    }

    /** {@code query-status}'s {@code status}: the run state. */
    public static String runState(QmpClient qmp) {
        return (String) qmp.executeForMap("query-status", Map.of()).get("status");
    }

    /** Polls {@code query-migrate} until its status is one of {@code statuses}; returns that reply. */
    public static Map<String, Object> awaitStatus(QmpClient qmp, Set<String> statuses, Duration timeout)
            throws TimeoutException {
        return awaitMigrate(qmp, m -> statuses.contains(String.valueOf(m.getOrDefault("status", "none"))),
                "migration status in " + statuses, timeout);
    }

    /** Polls {@code query-migrate} until {@code condition} holds; returns that reply. */
    public static Map<String, Object> awaitMigrate(QmpClient qmp, Predicate<Map<String, Object>> condition, String what,
                                            Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Map<String, Object> m = queryMigrate(qmp);
            if (condition.test(m)) {
                return m;
            }
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("not true within " + timeout + ": " + what + "; last query-migrate: " + m);
            }
            LockSupport.parkNanos(POLL_MS * 1_000_000);
        }
    }

    /** The {@code tcp:HOST:PORT} a destination started with {@code -incoming tcp:…:0} really listens on. */
    @SuppressWarnings("unchecked")
    public static String incomingTcpUri(QmpClient destination) {
        Map<String, Object> m = queryMigrate(destination);
        List<Map<String, Object>> addrs = (List<Map<String, Object>>) m.get("socket-address");
        if (addrs == null || addrs.isEmpty() || !"inet".equals(addrs.getFirst().get("type"))) {
            throw new IllegalStateException("destination query-migrate has no inet socket-address: " + m);
        }
        Map<String, Object> a = addrs.getFirst();
        return "tcp:" + a.get("host") + ":" + a.get("port");
    }

    /** A long number from a query-migrate map ({@code "ram"} sub-keys via {@link #ram}). */
    public static long num(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Number n)) {
            throw new AssertionError("query-migrate member '" + key + "' is not a number: " + v + " in " + m);
        }
        return n.longValue();
    }

    @SuppressWarnings("unchecked")
    public static Map<String, Object> ram(Map<String, Object> queryMigrate) {
        Object r = queryMigrate.get("ram");
        if (!(r instanceof Map)) {
            throw new AssertionError("query-migrate has no 'ram' object: " + queryMigrate);
        }
        return (Map<String, Object>) r;
    }

    /** Byte position of the first difference between two guest RAM files, -1 if they are equal. */
    public static long mismatch(Path a, Path b) {
        try {
            return Files.mismatch(a, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Waits until the guest RAM file {@code ram} differs from a copy taken now: proof that a vCPU
     * workload writes to it.
     */
    public static void awaitRamChanges(Path ram, Path snapshot, Duration timeout, String what)
            throws IOException, TimeoutException {
        Files.copy(ram, snapshot, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (mismatch(ram, snapshot) == -1) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("guest RAM " + ram + " did not change within " + timeout + ": " + what);
            }
            LockSupport.parkNanos(POLL_MS * 1_000_000);
        }
    }
}
