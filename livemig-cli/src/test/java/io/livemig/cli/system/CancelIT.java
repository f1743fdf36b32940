package io.livemig.cli.system;

import io.livemig.cli.testing.Migrations;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static io.livemig.cli.testing.Migrations.MIB;
import static io.livemig.cli.testing.Migrations.awaitMigrate;
import static io.livemig.cli.testing.Migrations.awaitRamChanges;
import static io.livemig.cli.testing.Migrations.awaitStatus;
import static io.livemig.cli.testing.Migrations.concat;
import static io.livemig.cli.testing.Migrations.guest;
import static io.livemig.cli.testing.Migrations.incomingTcpUri;
import static io.livemig.cli.testing.Migrations.mismatch;
import static io.livemig.cli.testing.Migrations.num;
import static io.livemig.cli.testing.Migrations.ram;
import static io.livemig.cli.testing.Migrations.runState;
import static io.livemig.cli.testing.Migrations.workload;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * System test (issue "must show 3"): {@code migrate_cancel}. A migration that cannot converge
 * (the guest dirties memory four times faster than max-bandwidth lets it send) is cancelled while
 * active: the source keeps running with its workload, the destination fails and stays
 * {@code inmigrate}, and a second migration without a bandwidth limit then completes. Towards a
 * destination that accepts but never reads, the source's writes block; cancel still ends the
 * migration within seconds.
 */
@Timeout(120)
class CancelIT {

    private static final Duration T = Duration.ofSeconds(10);
    /** cancel must unblock a blocked write at once; a few seconds is generous on a busy 2-core box */
    private static final Duration CANCEL_TIMEOUT = Duration.ofSeconds(5);
    private static final long SIZE_MIB = 256;
    private static final Set<String> FINISHED = Set.of("completed", "failed", "cancelled");

    @TempDir
    Path dir;

    @Test
    void cancelActiveMigrationThenMigrateAgainUnlimited() throws Exception {
        long seed = Migrations.seed("CancelIT.active");
        Path srcRam = dir.resolve("src.ram");
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, SIZE_MIB), workload("64M", seed)));
             VmProcess dst1 = VmProcess.start(dir, guest(dir.resolve("dst1.ram"), SIZE_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
            QmpClient qmp = src.qmp();
            qmp.execute("migrate-set-capabilities", Map.of("capabilities",
                    List.of(Map.of("capability", "events", "state", true))));
            // QEMU's migrate_ensure_non_converge: low bandwidth and a 1 ms downtime limit, so a
            // pass can never end under the threshold however little the guest dirtied so far
            qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 16 * MIB, "downtime-limit", 1));
            qmp.execute("migrate", Map.of("uri", incomingTcpUri(dst1.qmp())));

            Map<String, Object> busy = awaitMigrate(qmp, m -> "active".equals(m.get("status"))
                            && num(ram(m), "transferred") > 16 * MIB,
                    "active with more than 16 MiB sent (seed " + seed + ")", Duration.ofSeconds(20));
            String why = "seed " + seed + ", query-migrate before cancel " + busy;
            qmp.execute("migrate_cancel");
            Map<String, Object> end = awaitStatus(qmp, FINISHED, CANCEL_TIMEOUT);
            assertThat(end.get("status")).as(why + "\nsource log:\n" + src.output()).isEqualTo("cancelled");
            qmp.awaitEvent(e -> e.path("event").asString().equals("MIGRATION")
                    && e.path("data").path("status").asString().equals("cancelled"), "MIGRATION cancelled", T);

            assertThat(runState(qmp)).as(why).isEqualTo("running");
            awaitRamChanges(srcRam, dir.resolve("snapshot.ram"), T, "the source's workload runs after cancel; " + why);

            Map<String, Object> dst1End = awaitStatus(dst1.qmp(), Set.of("completed", "failed"), T);
            assertThat(dst1End.get("status")).as("first destination %s; %s", dst1End, why).isEqualTo("failed");
            assertThat(runState(dst1.qmp())).as(why).isEqualTo("inmigrate");

            Path dstRam = dir.resolve("dst2.ram");
            try (VmProcess dst2 = VmProcess.start(dir, guest(dstRam, SIZE_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
                qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 300));
                qmp.execute("migrate", Map.of("uri", incomingTcpUri(dst2.qmp())));
                Map<String, Object> done = awaitStatus(qmp, FINISHED, Duration.ofSeconds(60));
                assertThat(done.get("status")).as("second migration %s; seed %d; source log:\n%s", done, seed, src.output())
                        .isEqualTo("completed");
                assertThat(awaitStatus(dst2.qmp(), FINISHED, T).get("status")).isEqualTo("completed");
                assertThat(runState(qmp)).isEqualTo("postmigrate");
                assertThat(runState(dst2.qmp())).isEqualTo("running");
                assertThat(mismatch(srcRam, dstRam)).as("seed %d: first differing byte of guest RAM", seed).isEqualTo(-1L);
            }
        }
    }

    /**
     * Cancel at once, most likely while {@code setup}, towards a destination that never reads; three
     * times on the same source, so a cancelled migration leaves it ready for the next.
     */
    @Test
    void cancelRightAfterMigrateTowardsBlackholeRepeated() throws Exception {
        cancelTowardsBlackhole("setup", false, 3);
    }

    /**
     * Cancel once the source's writes are blocked: the blackhole never reads and the guest holds
     * 64 MiB of non-zero pages, far more than the socket buffers take, so after half a second still
     * {@code active} with {@code ram.transferred} not moving the migration thread sits in a write.
     */
    @Test
    void cancelUnblocksWritesTowardsBlackhole() throws Exception {
        cancelTowardsBlackhole("blocked", true, 1);
    }

    /** Writes {@code size} seeded random bytes to {@code file}: guest RAM that is not zero pages. */
    private static void fillRandom(Path file, long size, long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] chunk = new byte[(int) MIB];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long done = 0; done < size; done += chunk.length) {
                rnd.nextBytes(chunk);
                out.write(chunk);
            }
        }
    }

    private void cancelTowardsBlackhole(String name, boolean waitUntilBlocked, int rounds) throws Exception {
        long seed = Migrations.seed("CancelIT.blackhole-" + name);
        List<Socket> accepted = new CopyOnWriteArrayList<>();
        Thread acceptor = null;
        try (ServerSocket blackhole = new ServerSocket()) {
            blackhole.setReceiveBufferSize(64 * 1024);
            blackhole.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            acceptor = Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        accepted.add(blackhole.accept());
                    }
                } catch (IOException e) {
                    // closed at the end of the test
                }
            });
            // random contents: 64 MiB of normal pages, far more than loopback socket buffers hold
            Path srcRam = dir.resolve("src.ram");
            fillRandom(srcRam, 64 * MIB, seed);
            try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, 64), workload("16M", seed)))) {
                QmpClient qmp = src.qmp();
                qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 300));
                for (int round = 1; round <= rounds; round++) {
                    qmp.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + blackhole.getLocalPort()));
                    String before = (waitUntilBlocked ? awaitBlocked(qmp) : Migrations.queryMigrate(qmp)).toString();
                    long t0 = System.nanoTime();
                    qmp.execute("migrate_cancel");
                    qmp.execute("migrate_cancel");   // a second cancel is harmless
                    Map<String, Object> end = awaitStatus(qmp, FINISHED, CANCEL_TIMEOUT);
                    assertThat(end.get("status")).as("round %d, before cancel: %s; seed %d; log:%n%s",
                            round, before, seed, src.output()).isEqualTo("cancelled");
                    System.out.println("CancelIT.blackhole-" + name + " round " + round + ": cancelled "
                            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms after migrate_cancel; before: "
                            + before);
                    assertThat(runState(qmp)).isEqualTo("running");
                }
                assertThat(accepted).as("the source connected to the blackhole").isNotEmpty();
            }
        } finally {
            for (Socket s : accepted) {
                s.close();
            }
            if (acceptor != null) {
                assertThat(acceptor.join(Duration.ofSeconds(5))).as("acceptor ends when the blackhole closes").isTrue();
            }
        }
    }

    /** Waits until the migration is active and {@code ram.transferred} has not moved for 500 ms. */
    private static Map<String, Object> awaitBlocked(QmpClient qmp) throws Exception {
        long[] last = {-1, System.nanoTime()};
        return awaitMigrate(qmp, m -> {
            if (!"active".equals(m.get("status"))) {
                return false;
            }
            long sent = num(ram(m), "transferred");
            long now = System.nanoTime();
            if (sent != last[0]) {
                last[0] = sent;
                last[1] = now;
                return false;
            }
            return sent > 0 && now - last[1] > TimeUnit.MILLISECONDS.toNanos(500);
        }, "active and ram.transferred unchanged for 500 ms (writes blocked)", T);
    }
}
