package io.livemig.cli.system;

import io.livemig.cli.testing.Migrations;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

import static io.livemig.cli.testing.Migrations.MIB;
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
 * System test: a 256 MiB guest whose vCPU keeps dirtying memory migrates over TCP loopback to a
 * second process, and arrives byte for byte. The source's RAM file after completion is the RAM at
 * switchover (the source is {@code postmigrate}, its workload parked); the destination has no
 * workload, so its RAM file is what it loaded.
 */
@Timeout(90)
class TcpMigrationIT {

    private static final Duration MIGRATION_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration T = Duration.ofSeconds(10);
    private static final long SIZE_MIB = 256;

    @TempDir
    Path dir;

    /** Issue "must show 1": default parameters, live workload, completed, identical RAM, consistent figures. */
    @Test
    void liveGuestMigratesAtDefaultParametersAndArrivesIdentical() throws Exception {
        long seed = Migrations.seed("TcpMigrationIT.defaults");
        Path srcRam = dir.resolve("src.ram");
        Path dstRam = dir.resolve("dst.ram");
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, SIZE_MIB), workload("32M", seed)));
             VmProcess dst = VmProcess.start(dir, guest(dstRam, SIZE_MIB, "-incoming", "tcp:127.0.0.1:0"))) {
            assertThat(runState(dst.qmp())).isEqualTo("inmigrate");
            src.qmp().execute("migrate", Map.of("uri", incomingTcpUri(dst.qmp())));

            Map<String, Object> done = awaitStatus(src.qmp(), Set.of("completed", "failed", "cancelled"), MIGRATION_TIMEOUT);
            String why = "seed " + seed + ", source query-migrate " + done + "\nsource log:\n" + src.output();
            assertThat(done.get("status")).as(why).isEqualTo("completed");
            Map<String, Object> dstDone = awaitStatus(dst.qmp(), Set.of("completed", "failed"), T);
            assertThat(dstDone.get("status")).as("destination %s, log:\n%s", dstDone, dst.output()).isEqualTo("completed");

            assertThat(runState(src.qmp())).as(why).isEqualTo("postmigrate");
            assertThat(runState(dst.qmp())).as(why).isEqualTo("running");
            assertThat(mismatch(srcRam, dstRam)).as("first differing byte of guest RAM; " + why).isEqualTo(-1L);

            Map<String, Object> r = ram(done);
            assertThat(num(r, "total")).as(why).isEqualTo(SIZE_MIB * MIB);
            assertThat(num(r, "normal-bytes")).as(why).isEqualTo(num(r, "normal") * 4096);
            assertThat(num(r, "normal")).as("the workload dirtied pages that had to be sent; " + why).isPositive();
            assertThat(num(r, "transferred")).as(why).isGreaterThanOrEqualTo(num(r, "normal-bytes"));
            assertThat(num(r, "dirty-sync-count")).as(why).isGreaterThanOrEqualTo(1);
            assertThat(done).as(why).containsKeys("downtime", "total-time", "setup-time");
            assertThat(num(done, "downtime")).as(why).isPositive().isLessThanOrEqualTo(num(done, "total-time"));
        }
    }

    /**
     * Issue 3 "must show 1": the command sequence a QEMU user sends, as JSON text, works unchanged;
     * the source announces {@code MIGRATION} setup, active, device, completed in that order and
     * {@code STOP}; the destination announces {@code RESUME}.
     */
    @Test
    void qmpScriptWrittenForQemu() throws Exception {
        long seed = Migrations.seed("TcpMigrationIT.qemuScript");
        Path srcRam = dir.resolve("src.ram");
        Path dstRam = dir.resolve("dst.ram");
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, SIZE_MIB), workload("32M", seed)));
             VmProcess dst = VmProcess.start(dir, guest(dstRam, SIZE_MIB, "-incoming", "tcp:127.0.0.1:0"));
             QmpClient script = src.connectQmp()) {
            String uri = incomingTcpUri(dst.qmp());
            List<String> commands = List.of(
                    "{\"execute\": \"qmp_capabilities\"}",
                    "{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": "
                            + "[{\"capability\": \"events\", \"state\": true}]}}",
                    "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
                            + "{\"max-bandwidth\": 1073741824, \"downtime-limit\": 300}}",
                    "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"" + uri + "\"}}");
            for (String c : commands) {
                script.sendRaw(c);
                JsonNode reply = script.readReply(T);
                assertThat(reply.has("return")).as("%s -> %s", c, reply).isTrue();
                assertThat(reply.path("return").isObject() && reply.path("return").isEmpty()).as("%s -> %s", c, reply).isTrue();
            }
            String status = pollQueryMigrateRaw(script, MIGRATION_TIMEOUT);
            assertThat(status).as("seed %d, source log:\n%s", seed, src.output()).isEqualTo("completed");

            // the status changes, then its event goes out: wait for the last one before looking at the order
            script.awaitEvent(e -> e.path("event").asString().equals("MIGRATION")
                    && e.path("data").path("status").asString().equals("completed"), "MIGRATION completed", T);
            assertThat(script.seenEvents()).filteredOn(e -> e.path("event").asString().equals("MIGRATION"))
                    .extracting(e -> e.path("data").path("status").asString())
                    .containsExactly("setup", "active", "device", "completed");
            // as in QEMU's migration_completion: the guest stops, then the status moves to device
            assertThat(script.seenEvents()).filteredOn(e -> Set.of("MIGRATION", "STOP").contains(e.path("event").asString()))
                    .extracting(e -> e.path("event").asString() + (e.has("data") ? " " + e.path("data").path("status").asString() : ""))
                    .containsExactly("MIGRATION setup", "MIGRATION active", "STOP", "MIGRATION device", "MIGRATION completed");
            assertThat(script.seenEvents()).filteredOn(e -> e.path("event").asString().equals("STOP"))
                    .allSatisfy(e -> assertThat(e.has("data")).as("QEMU's STOP has no data").isFalse());
            dst.qmp().awaitEvent("RESUME", T);
            assertThat(runState(src.qmp())).isEqualTo("postmigrate");
            assertThat(runState(dst.qmp())).isEqualTo("running");
            assertThat(mismatch(srcRam, dstRam)).as("seed %d: first differing byte of guest RAM", seed).isEqualTo(-1L);
        }
    }

    /** Sends {@code query-migrate} as text every 50 ms until it reports a finished status; returns it. */
    private static String pollQueryMigrateRaw(QmpClient qmp, Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            qmp.sendRaw("{\"execute\": \"query-migrate\"}");
            JsonNode reply = qmp.readReply(T);
            String status = reply.path("return").path("status").asString();
            if (Set.of("completed", "failed", "cancelled").contains(status)) {
                return status;
            }
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("migration not finished within " + timeout + ": " + reply);
            }
            LockSupport.parkNanos(Migrations.POLL_MS * 1_000_000);
        }
    }
}
