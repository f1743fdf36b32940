package io.livemig.cli.faults;

import io.livemig.cli.faults.FaultProxy.Fault;
import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.GuestRamFile;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static io.livemig.cli.faults.Faults.FINISHED;
import static io.livemig.cli.testing.Migrations.MIB;
import static io.livemig.cli.testing.Migrations.awaitRamChanges;
import static io.livemig.cli.testing.Migrations.awaitStatus;
import static io.livemig.cli.testing.Migrations.concat;
import static io.livemig.cli.testing.Migrations.guest;
import static io.livemig.cli.testing.Migrations.incomingTcpUri;
import static io.livemig.cli.testing.Migrations.mismatch;
import static io.livemig.cli.testing.Migrations.runState;
import static io.livemig.cli.testing.Migrations.workload;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * System test (issue "Reliability and security", faults 1): the connection is cut — reset (RST) or
 * closed (FIN) — after a seeded random number of stream bytes, during setup (the first 100 bytes),
 * pre-copy, and stop-and-copy (a vfio-sim device with 256 MiB of stop-copy data makes it long),
 * each without and with the return path.
 *
 * <p>Every cut: the source ends {@code failed} and is back in the run state it had (running, or
 * paused for some stop-and-copy cuts) with its workload writing; the destination ends
 * {@code failed} and stays {@code inmigrate} (it never starts a guest from a partial stream), and
 * is armed again with {@code migrate-incoming} for the next cut. After the four cuts, a migration
 * to a fresh destination completes with identical RAM: the source's memory was intact throughout.
 */
@Timeout(150)
class CutConnectionIT {

    private static final Duration T = Duration.ofSeconds(20);
    private static final long RAM_MIB = 64;

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private record Variant(Fault fault, boolean returnPath) {
    }

    private static final List<Variant> VARIANTS = List.of(new Variant(Fault.RST, false), new Variant(Fault.FIN, false),
            new Variant(Fault.RST, true), new Variant(Fault.FIN, true));

    @Test
    void cutDuringSetup() throws Exception {
        run("setup", false, rnd -> 1 + rnd.nextLong(99));
    }

    @Test
    void cutDuringPrecopy() throws Exception {
        run("precopy", false, rnd -> MIB + rnd.nextLong(31 * MIB));
    }

    /**
     * Pre-copy sends at most the 64 MiB of RAM plus what the workload dirtied and 1 MiB of device
     * data before switchover; the cut lands between 96 and 224 MiB, inside the 256 MiB the device
     * sends once stopped, and leaves more unsent than the socket buffers hold, so the source cannot
     * finish its stream into the buffers before it learns of the cut.
     */
    @Test
    void cutDuringStopAndCopy() throws Exception {
        run("stop-and-copy", true, rnd -> 96 * MIB + rnd.nextLong(128 * MIB));
    }

    private interface CutPoint {
        long pick(SplittableRandom rnd);
    }

    private void run(String phase, boolean stopCopy, CutPoint cut) throws Exception {
        long s = seed.seed();
        SplittableRandom rnd = new SplittableRandom(s);
        Path srcRam = dir.resolve("src.ram");
        GuestRamFile.fill(srcRam, RAM_MIB * MIB, s);
        String[] vfio = stopCopy ? new String[]{"-device", "vfio-sim,id=vf0,stop-copy-bytes=256M"} : new String[0];
        try (VmProcess src = VmProcess.start(dir, concat(guest(srcRam, RAM_MIB), workload("4M", s), vfio));
             VmProcess dst = VmProcess.start(dir, concat(guest(dir.resolve("dst.ram"), RAM_MIB, "-incoming",
                     "tcp:127.0.0.1:0"), vfio))) {
            QmpClient qmp = src.qmp();
            if (stopCopy) {
                // converges at the first measured window: the device's 256 MiB fit in the limit
                qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 120_000));
            } else {
                // never converges: 1 ms of downtime, a guest dirtying 4 MiB/s
                qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 64 * MIB, "downtime-limit", 1));
            }
            String dstUri = incomingTcpUri(dst.qmp());
            for (Variant v : VARIANTS) {
                long after = cut.pick(rnd);
                // stop-and-copy with the return path runs a paused guest: it must come back paused
                boolean paused = stopCopy && v.returnPath();
                if (paused) {
                    qmp.execute("stop");
                }
                String expectRun = paused ? "paused" : "running";
                String why = phase + " " + v + " cut after " + after + " bytes, seed " + s;
                Faults.capabilities(qmp, v.returnPath());
                try (FaultProxy proxy = FaultProxy.start(Faults.port(dstUri), v.fault(), after)) {
                    qmp.execute("migrate", Map.of("uri", proxy.uri()));
                    List<String> statuses = Faults.statusesUntilFinished(qmp, Duration.ofSeconds(60));
                    Map<String, Object> end = awaitStatus(qmp, FINISHED, T);
                    String ctx = why + ", statuses " + statuses + ", query-migrate " + end + ", proxy forwarded "
                            + proxy.forwarded();
                    System.out.println("CutConnectionIT " + ctx);
                    assertThat(proxy.hasFaulted()).as(ctx).isTrue();
                    assertThat(end.get("status")).as(ctx + "\nsource log:\n" + src.output()).isEqualTo("failed");
                    assertThat((String) end.get("error-desc")).as(ctx).isNotBlank();
                    if (stopCopy) {
                        assertThat(statuses).as("the cut came in stop-and-copy; " + ctx).contains("device");
                    } else if (phase.equals("precopy")) {
                        assertThat(statuses).as("the cut came in pre-copy; " + ctx).contains("active").doesNotContain("device");
                    }
                    assertThat(runState(qmp)).as(ctx).isEqualTo(expectRun);

                    Map<String, Object> dEnd = awaitStatus(dst.qmp(), FINISHED, T);
                    assertThat(dEnd.get("status")).as(ctx + "; destination " + dEnd).isEqualTo("failed");
                    assertThat(runState(dst.qmp())).as(ctx).isEqualTo("inmigrate");
                }
                if (paused) {
                    qmp.execute("cont");
                }
                awaitRamChanges(srcRam, dir.resolve("snapshot.ram"), T, "the source's workload runs after " + why);
                dstUri = Faults.rearm(dst.qmp());
            }

            // memory intact: a clean migration to a fresh destination gives identical RAM
            Path freshRam = dir.resolve("fresh.ram");
            GuestRamFile.garbage(freshRam, RAM_MIB * MIB, s + 1);
            try (VmProcess fresh = VmProcess.start(dir, concat(guest(freshRam, RAM_MIB, "-incoming", "tcp:127.0.0.1:0"),
                    vfio))) {
                Faults.capabilities(qmp, true);
                qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", stopCopy ? 120_000 : 300));
                qmp.execute("migrate", Map.of("uri", incomingTcpUri(fresh.qmp())));
                Map<String, Object> done = awaitStatus(qmp, FINISHED, Duration.ofSeconds(60));
                assertThat(done.get("status")).as("final migration %s; seed %d; log:%n%s", done, s, src.output())
                        .isEqualTo("completed");
                assertThat(awaitStatus(fresh.qmp(), FINISHED, T).get("status")).isEqualTo("completed");
                assertThat(runState(fresh.qmp())).isEqualTo("running");
                assertThat(mismatch(srcRam, freshRam)).as("seed %d: first differing byte of guest RAM", s).isEqualTo(-1L);
                if (stopCopy) {
                    assertThat(fresh.qmp().execute("qom-get", Map.of("path", "vf0", "property", "x-state-digest")))
                            .isEqualTo(qmp.execute("qom-get", Map.of("path", "vf0", "property", "x-state-digest")));
                }
            }
        }
    }
}
