package io.livemig.cli.faults;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;

import static io.livemig.cli.faults.Faults.FINISHED;
import static io.livemig.cli.testing.Migrations.awaitStatus;
import static io.livemig.cli.testing.Migrations.concat;
import static io.livemig.cli.testing.Migrations.guest;
import static io.livemig.cli.testing.Migrations.incomingTcpUri;
import static io.livemig.cli.testing.Migrations.mismatch;
import static io.livemig.cli.testing.Migrations.runState;
import static io.livemig.cli.testing.Migrations.workload;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * System test (issue "Reliability and security", faults 5): 20 migrations back and forth between
 * two processes, the guest's workload writing while it runs. A process that was a source becomes a
 * destination again with livemig's {@code migrate-incoming} on a {@code postmigrate} guest.
 *
 * <p>Each migration: the destination is told {@code stop} while {@code inmigrate} (autostart off),
 * so after the load it is {@code paused} and its RAM file must equal the source's
 * ({@code postmigrate}) byte for byte; then {@code cont} starts it, and it is the next source.
 *
 * <p>Leaks: after the second migration (both processes have had both roles), each process's
 * thread count, open file descriptors ({@code /proc/PID/fd}) and RSS ({@code VmRSS}) are taken as
 * the baseline; after the last they may exceed it only by small bounds.
 */
@Timeout(150)
class SoakIT {

    private static final int MIGRATIONS = 20;
    private static final long RAM_MIB = 64;
    private static final Duration T = Duration.ofSeconds(30);
    /** JIT compiler and GC threads come and go by themselves */
    private static final long THREAD_SLACK = 4;
    private static final long FD_SLACK = 2;
    /**
     * The stream buffers are pooled (StreamBufferPool), so migrating again allocates nothing
     * large; what is left is JIT code and malloc noise. Measured: RSS after 20 migrations is
     * 20 MiB lower than after the first (the pool replaces per-migration buffers).
     */
    private static final long RSS_SLACK_KIB = 16 * 1024;

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    private record Usage(long threads, long fds, long rssKib, long rssAnonKib) {
        /**
         * Measured after a full GC in the child ({@code jcmd PID GC.run}): each migration allocates its
         * stream buffers (direct) afresh and the JVM frees them only when a GC finds them
         * unreachable, so without a GC the RSS shows garbage, not retained memory.
         */
        static Usage of(Process p) throws Exception {
            Process gc = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(p.pid()), "GC.run").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            assertThat(gc.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).as("jcmd GC.run").isTrue();
            Path proc = Path.of("/proc", Long.toString(p.pid()));
            try (Stream<Path> fds = Files.list(proc.resolve("fd"))) {
                long n = fds.count();
                String status = Files.readString(proc.resolve("status"));
                return new Usage(field(status, "Threads:"), n, field(status, "VmRSS:"), field(status, "RssAnon:"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static long field(String status, String name) {
            for (String line : status.split("\n")) {
                if (line.startsWith(name)) {
                    return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]);
                }
            }
            throw new IllegalStateException(name + " not in /proc/PID/status");
        }
    }

    @Test
    void twentyMigrationsBackAndForth() throws Exception {
        long s = seed.seed();
        Path ramA = dir.resolve("a.ram");
        Path ramB = dir.resolve("b.ram");
        try (VmProcess a = VmProcess.start(dir, concat(guest(ramA, RAM_MIB), workload("8M", s)));
             VmProcess b = VmProcess.start(dir, concat(guest(ramB, RAM_MIB, "-incoming", "tcp:127.0.0.1:0"),
                     workload("8M", s + 1)))) {
            VmProcess[] vm = {a, b};
            Path[] ram = {ramA, ramB};
            for (VmProcess v : vm) {
                v.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 0, "downtime-limit", 300));
                Faults.capabilities(v.qmp(), true);
            }
            Usage[] base = new Usage[2];
            long t0 = System.nanoTime();
            for (int i = 1; i <= MIGRATIONS; i++) {
                int from = (i - 1) % 2;
                int to = 1 - from;
                QmpClient src = vm[from].qmp();
                QmpClient dst = vm[to].qmp();
                String uri = i == 1 ? incomingTcpUri(dst) : Faults.rearm(dst);
                dst.execute("stop");   // autostart off: the guest stays paused after the load
                String why = "migration " + i + " " + (from == 0 ? "a→b" : "b→a") + ", seed " + s;
                assertThat(runState(src)).as(why).isEqualTo("running");
                src.execute("migrate", Map.of("uri", uri));
                Map<String, Object> done = awaitStatus(src, FINISHED, T);
                assertThat(done.get("status")).as("%s: %s; log:%n%s", why, done, vm[from].output()).isEqualTo("completed");
                assertThat(awaitStatus(dst, FINISHED, T).get("status")).as(why).isEqualTo("completed");
                assertThat(runState(src)).as(why).isEqualTo("postmigrate");
                assertThat(runState(dst)).as(why).isEqualTo("paused");
                assertThat(mismatch(ram[from], ram[to])).as("%s: first differing byte of guest RAM", why).isEqualTo(-1L);
                dst.execute("cont");
                if (i == 2) {
                    base[0] = Usage.of(a.process());
                    base[1] = Usage.of(b.process());
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Usage endA = Usage.of(a.process());
            Usage endB = Usage.of(b.process());
            System.out.printf("SoakIT: %d migrations in %d ms; a %s -> %s; b %s -> %s%n", MIGRATIONS, ms, base[0], endA,
                    base[1], endB);
            for (Usage[] pair : new Usage[][]{{base[0], endA}, {base[1], endB}}) {
                assertThat(pair[1].threads()).as("threads").isLessThanOrEqualTo(pair[0].threads() + THREAD_SLACK);
                assertThat(pair[1].fds()).as("fds").isLessThanOrEqualTo(pair[0].fds() + FD_SLACK);
                assertThat(pair[1].rssKib()).as("RSS KiB").isLessThanOrEqualTo(pair[0].rssKib() + RSS_SLACK_KIB);
            }
        }
    }
}
