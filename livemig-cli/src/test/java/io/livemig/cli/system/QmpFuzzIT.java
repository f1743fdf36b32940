package io.livemig.cli.system;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.Await;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * QMP fuzz against a real {@code livemig vm}: while a migration runs, 32 seeded clients send
 * what a broken or hostile client sends: bytes that are not JSON (invalid UTF-8 too), deep
 * nesting, a line over the 1 MiB request limit, wrong types, random commands with random
 * arguments, requests they never read the replies of, connections dropped mid-request. Throughout,
 * a control client's {@code query-status} must answer within 1 s; the process never dies; at the
 * end the guest is intact: it runs and a fresh migration to a file completes.
 *
 * <p>Seeded ({@code -Dlivemig.seed=S}, printed), bounded in count and in time (a 15 s hammering
 * window).
 */
@Timeout(120)
class QmpFuzzIT {

    private static final Duration T = Duration.ofSeconds(10);
    private static final Duration WINDOW = Duration.ofSeconds(15);
    private static final int CLIENTS = 32;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] COMMANDS = {"query-status", "stop", "cont", "query-name", "query-version",
            "query-commands", "migrate", "migrate-incoming", "migrate_cancel", "migrate-cancel", "query-migrate",
            "migrate-set-parameters", "query-migrate-parameters", "migrate-set-capabilities", "qom-get",
            "query-migrate-capabilities", "qmp_capabilities", "no-such-command", "", "QUIT", "x-debug"};
    private static final String[] KEYS = {"uri", "blk", "capabilities", "capability", "state", "max-bandwidth",
            "downtime-limit", "x-iterate-policy", "xbzrle-cache-size", "avail-switchover-bandwidth", "path",
            "property", "enable", "detach", "resume", "", "arguments", "execute"};

    @TempDir
    Path dir;

    @Test
    void hostileClientsNeitherKillNorBlockTheVm() throws Exception {
        long seed = Long.getLong("livemig.seed", new SplittableRandom().nextLong());
        System.out.println("QmpFuzzIT seed " + seed + " (replay with -Dlivemig.seed=" + seed + ")");
        try (VmProcess vm = VmProcess.start(dir, "-machine", "none,memory-backend=mem0", "-m", "32M",
                "-object", "memory-backend-ram,id=mem0,size=32M", "-name", "fuzz",
                "-workload", "target=mem0,dirty-rate=4M,pattern=random,seed=" + seed)) {
            QmpClient control = vm.qmp();
            control.execute("migrate-set-parameters", Map.of("max-bandwidth", 4L << 20));
            control.execute("migrate", Map.of("uri", "file:" + dir.resolve("during.bin")));

            AtomicLong worstMs = new AtomicLong();
            List<String> problems = Collections.synchronizedList(new ArrayList<>());
            long end = System.nanoTime() + WINDOW.toNanos();
            ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> clients = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                long clientSeed = seed + 0x9e3779b97f4a7c15L * (i + 1);
                int kind = i % 7;
                clients.add(pool.submit(() -> {
                    try {
                        client(vm, kind, new SplittableRandom(clientSeed), end);
                    } catch (Exception | AssertionError e) {
                        problems.add("client kind " + kind + " seed " + clientSeed + ": " + e);
                    }
                    return null;
                }));
            }
            int polls = 0;
            while (System.nanoTime() < end) {
                long t0 = System.nanoTime();
                JsonNode st = control.executeNode("query-status", Map.of(), Duration.ofSeconds(1));
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                worstMs.accumulateAndGet(ms, Math::max);
                assertThat(st.path("status").asString()).as("seed %d", seed).isNotEmpty();
                assertThat(vm.process().isAlive()).as("seed %d: the vm process is alive", seed).isTrue();
                polls++;
                Await.until(Duration.ofMillis(100), () -> false || System.nanoTime() - t0 > 50_000_000L, "next poll");
            }
            pool.shutdown();
            assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).as("clients end").isTrue();
            for (Future<?> f : clients) {
                f.get();
            }
            System.out.printf("QmpFuzzIT seed %d: %d control polls, worst query-status %d ms%n", seed, polls, worstMs.get());
            assertThat(problems).as("seed %d", seed).isEmpty();
            assertThat(worstMs.get()).as("seed %d: worst control reply (ms)", seed).isLessThan(1000);
            assertThat(vm.process().isAlive()).isTrue();

            // the guest is intact: it runs, and a new migration completes
            control.execute("migrate_cancel");
            Await.until(T, () -> isFinished(control), "the fuzzed migration to end");
            if (!"running".equals(control.executeForMap("query-status", Map.of()).get("status"))) {
                control.execute("cont");
            }
            // every capability off, by name: an empty list changes nothing (as in QEMU), and the
            // clients may have turned on return-path, which a file: migration refuses
            List<Map<String, Object>> off = new java.util.ArrayList<>();
            for (JsonNode c : control.executeNode("query-migrate-capabilities", Map.of(), Duration.ofSeconds(5))) {
                off.add(Map.of("capability", c.path("capability").asString(), "state", false));
            }
            control.execute("migrate-set-capabilities", Map.of("capabilities", off));
            control.execute("migrate-set-parameters", Map.of("max-bandwidth", 0L, "downtime-limit", 300L,
                    "avail-switchover-bandwidth", 0L));
            control.execute("migrate", Map.of("uri", "file:" + dir.resolve("after.bin")));
            Await.until(Duration.ofSeconds(30), () -> isFinished(control), "the final migration");
            assertThat(control.executeForMap("query-migrate", Map.of())).as("seed %d", seed)
                    .containsEntry("status", "completed");
            assertThat(control.executeForMap("query-status", Map.of())).containsEntry("status", "postmigrate");
        }
    }

    private static boolean isFinished(QmpClient c) {
        Object s = c.executeForMap("query-migrate", Map.of()).get("status");
        return s == null || List.of("completed", "failed", "cancelled").contains(s);
    }

    /** One hostile client, by kind; runs until {@code end} or its count of messages is spent. */
    private void client(VmProcess vm, int kind, SplittableRandom r, long end) throws Exception {
        switch (kind) {
            case 0 -> raw(vm, end, ch -> {
                byte[] b = new byte[1 + r.nextInt(512)];
                r.nextBytes(b);
                return b; // not JSON, invalid UTF-8, sometimes newlines
            }, 400, true);
            case 1 -> raw(vm, end, ch -> {
                String open = r.nextBoolean() ? "[" : "{\"a\":";
                return (open.repeat(1 + r.nextInt(5000)) + (r.nextBoolean() ? "\n" : "")).getBytes(StandardCharsets.US_ASCII);
            }, 100, true);
            case 2 -> {
                // one line over the 1 MiB limit: the server answers with an error and closes
                try (QmpClient c = QmpClient.connectAndNegotiate(vm.qmpSocket(), T)) {
                    try {
                        c.sendBytes(("{\"execute\": \"query-status\", \"id\": \"" + "y".repeat((1 << 20) + r.nextInt(1 << 20))
                                + "\"}\n").getBytes(StandardCharsets.US_ASCII));
                    } catch (IOException e) {
                        // the server closed the connection before the line ended (broken pipe): allowed
                    }
                    c.awaitDisconnect(T);
                }
            }
            case 3 -> raw(vm, end, ch -> request(r).getBytes(StandardCharsets.UTF_8), 3000, false); // never reads
            case 4 -> {
                // connects, sends half a request, drops the connection; again
                for (int i = 0; i < 50 && System.nanoTime() < end; i++) {
                    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                        ch.connect(UnixDomainSocketAddress.of(vm.qmpSocket()));
                        String req = request(r);
                        ch.write(ByteBuffer.wrap(req.substring(0, r.nextInt(req.length())).getBytes(StandardCharsets.UTF_8)));
                    }
                }
            }
            default -> {
                // negotiated, random valid-ish commands; every request gets one well-formed reply
                try (QmpClient c = QmpClient.connectAndNegotiate(vm.qmpSocket(), T)) {
                    for (int i = 0; i < 300 && System.nanoTime() < end; i++) {
                        String id = "f" + i;
                        c.sendRaw(request(r, id));
                        JsonNode reply = c.readReply(T);
                        assertThat(reply.path("id").asString(null)).as("reply %s", reply).isEqualTo(id);
                        assertThat(reply.has("return") || reply.path("error").path("class").isString())
                                .as("reply %s", reply).isTrue();
                    }
                }
            }
        }
    }

    @FunctionalInterface
    private interface Payload {
        byte[] next(SocketChannel ch) throws IOException;
    }

    /** A raw socket that writes {@code count} payloads and never reads what the server answers. */
    private static void raw(VmProcess vm, long end, Payload p, int count, boolean negotiate) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(vm.qmpSocket()));
            if (negotiate) {
                ch.write(ByteBuffer.wrap("{\"execute\":\"qmp_capabilities\"}\n".getBytes(StandardCharsets.US_ASCII)));
            }
            ch.configureBlocking(false);
            for (int i = 0; i < count && System.nanoTime() < end; i++) {
                ByteBuffer b = ByteBuffer.wrap(p.next(ch));
                long until = System.nanoTime() + 200_000_000L;
                while (b.hasRemaining() && System.nanoTime() < until) {
                    ch.write(b); // a server that stops reading a client it closed or throttles is fine
                }
                if (b.hasRemaining()) {
                    return;
                }
            }
        } catch (IOException e) {
            // the server may close a hostile client; that is allowed
        }
    }

    private String request(SplittableRandom r) {
        return request(r, r.nextBoolean() ? null : r.nextInt(4) == 0 ? "[1]" : "x" + r.nextInt());
    }

    /** A JSON request: mostly well-formed, with a random command and random arguments of random types. */
    private String request(SplittableRandom r, String id) {
        Map<String, Object> req = new LinkedHashMap<>();
        String cmd = COMMANDS[r.nextInt(COMMANDS.length)];
        req.put(r.nextInt(20) == 0 ? "exec-oob" : "execute", r.nextInt(15) == 0 ? value(r, 0) : cmd);
        if (r.nextInt(4) != 0) {
            req.put("arguments", r.nextInt(10) == 0 ? value(r, 0) : arguments(r, cmd));
        }
        if (id != null) {
            req.put("id", id);
        }
        if (r.nextInt(20) == 0) {
            req.put("unexpected", value(r, 0));
        }
        return JSON.writeValueAsString(req) + "\n";
    }

    private Map<String, Object> arguments(SplittableRandom r, String cmd) {
        Map<String, Object> a = new LinkedHashMap<>();
        int n = r.nextInt(4);
        for (int i = 0; i < n; i++) {
            String k = KEYS[r.nextInt(KEYS.length)];
            a.put(k, k.equals("uri") ? uri(r) : value(r, 0));
        }
        if (cmd.equals("migrate-set-capabilities") && r.nextBoolean()) {
            String[] caps = {"xbzrle", "events", "return-path", "switchover-ack", "block", "validate-uuid", "postcopy-ram", "x"};
            a.put("capabilities", List.of(Map.of("capability", caps[r.nextInt(caps.length)], "state", r.nextBoolean())));
        }
        return a;
    }

    /** URIs that stay inside the test directory or fail at once (never exec:). */
    private String uri(SplittableRandom r) {
        return switch (r.nextInt(7)) {
            case 0 -> "file:" + dir.resolve("fz-" + r.nextInt(4) + ".bin");
            case 1 -> "tcp:127.0.0.1:1";
            case 2 -> "unix:" + dir.resolve("nope.sock");
            case 3 -> "defer";
            case 4 -> "tcp:[::1";
            case 5 -> "rdma:host:1";
            default -> "file:/nonexistent-dir/x";
        };
    }

    private static Object value(SplittableRandom r, int depth) {
        return switch (r.nextInt(depth > 3 ? 7 : 9)) {
            case 0 -> null;
            case 1 -> r.nextBoolean();
            case 2 -> r.nextLong();
            case 3 -> (long) r.nextInt(-2, 3);
            case 4 -> r.nextDouble() * 1e20;
            case 5 -> "s" + r.nextInt(100);
            case 6 -> "\u0000\uffff\ud7ff" + "z".repeat(r.nextInt(1000));
            case 7 -> java.util.Arrays.asList(value(r, depth + 1), value(r, depth + 1));
            default -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put(KEYS[r.nextInt(KEYS.length)], value(r, depth + 1));
                yield m;
            }
        };
    }
}
