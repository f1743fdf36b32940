package io.livemig.bench.scenario;

import io.livemig.cli.qmpclient.QmpClient;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * One migration between two fresh processes of one implementation, measured.
 *
 * <ol>
 *   <li>Delete the destination's RAM file; start the destination ({@code -incoming
 *       tcp:127.0.0.1:PORT}) and the source, both paused and preallocated, and wait for QMP.
 *       The source's RAM file was filled once by the runner and is not changed by a paused guest.</li>
 *   <li>With multifd ({@code --channels N > 1} or {@code --compression}), the destination starts
 *       with {@code -incoming defer} instead; both sides get {@code migrate-set-capabilities multifd}
 *       and {@code migrate-set-parameters multifd-channels N, multifd-compression C}; then the
 *       destination gets {@code migrate-incoming tcp:127.0.0.1:PORT}. QEMU 7.2 needs this order (its
 *       destination reads the capability when it starts listening); livemig is driven the same way.</li>
 *   <li>On the source, {@code migrate-set-parameters max-bandwidth} = {@code --max-bandwidth}, 0 by
 *       default: unlimited in livemig, and in QEMU 7.2 too ({@code qemu_file_rate_limit()} only
 *       limits when {@code rate_limit_max > 0}; QEMU 8.1 named that {@code RATE_LIMIT_DISABLED}).</li>
 *   <li>Sample both processes' CPU time, then send {@code migrate} and start the clock.</li>
 *   <li>Poll the destination's {@code query-migrate} every {@link #POLL_NANOS} until
 *       {@code completed} (the source every tenth poll, to see a failure early); stop the clock.</li>
 *   <li>Wait for the source's {@code completed}, read its {@code ram} figures and {@code downtime};
 *       sample CPU time and VmHWM; quit both; compare the RAM files.</li>
 * </ol>
 */
final class MigrationRun {

    static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    private static final int START_ATTEMPTS = 3;

    private final ScenarioOptions options;
    private final Path srcRam;

    MigrationRun(ScenarioOptions options, Path srcRam) {
        this.options = options;
        this.srcRam = srcRam;
    }

    /** One run of {@code impl} with {@code variant}'s channels and compression. */
    RunResult run(Implementation impl, RamContent content, Variant variant, int n) {
        String tag = impl.name().toLowerCase(java.util.Locale.ROOT) + "-" + content.label() + "-" + variant.tag() + "-" + n;
        boolean multifd = variant.multifd();
        Path dstRam = options.dir().resolve(tag + "-dst.ram");
        GuestProcess dst = null;
        GuestProcess src = null;
        try {
            Files.deleteIfExists(dstRam);
            int port = -1;
            for (int attempt = 1; dst == null; attempt++) {
                port = freeLoopbackPort();
                GuestProcess d = GuestProcess.launch(tag + "-dst", impl.command(options, dstRam,
                        options.dir().resolve(tag + "-dst.sock"), multifd ? "defer" : "tcp:127.0.0.1:" + port),
                        options.dir().resolve(tag + "-dst.log"));
                try {
                    d.awaitQmp(options.dir().resolve(tag + "-dst.sock"));
                    dst = d;
                } catch (IOException e) {
                    d.close();
                    if (attempt >= START_ATTEMPTS || !String.valueOf(e.getMessage()).contains("in use")) {
                        throw e;
                    }
                }
            }
            src = GuestProcess.launch(tag + "-src", impl.command(options, srcRam,
                    options.dir().resolve(tag + "-src.sock"), null), options.dir().resolve(tag + "-src.log"));
            src.awaitQmp(options.dir().resolve(tag + "-src.sock"));
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", options.maxBandwidth()));
            if (multifd) {
                for (GuestProcess g : List.of(src, dst)) {
                    g.qmp().execute("migrate-set-capabilities", Map.of("capabilities",
                            List.of(Map.of("capability", "multifd", "state", true))));
                    g.qmp().execute("migrate-set-parameters", Map.of("multifd-channels", variant.channels(),
                            "multifd-compression", variant.compression()));
                }
                port = listen(dst, port);
            }

            long srcCpu0 = ProcStats.cpuNanos(src.pid());
            long dstCpu0 = ProcStats.cpuNanos(dst.pid());
            long t0 = System.nanoTime();
            src.qmp().execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port));
            long t1 = awaitDestination(src, dst, t0);
            Map<String, Object> info = awaitSource(src);
            long srcCpu1 = ProcStats.cpuNanos(src.pid());
            long dstCpu1 = ProcStats.cpuNanos(dst.pid());
            long srcRss = ProcStats.peakRssBytes(src.pid());
            long dstRss = ProcStats.peakRssBytes(dst.pid());
            src.close();
            dst.close();

            Map<?, ?> ram = (Map<?, ?>) info.get("ram");
            long normal = number(ram, "normal");
            long zero = number(ram, "duplicate");
            long pages = options.size() / 4096;
            long diff = RamContent.mismatch(srcRam, dstRam, options.size());
            String error = null;
            if (diff >= 0) {
                error = "destination RAM differs from the source's at byte " + diff;
            } else if (normal + zero < pages) {
                error = "the source sent " + normal + " normal + " + zero + " zero pages, fewer than the guest's " + pages;
            }
            return new RunResult(impl, content, variant, n, error == null, error, (t1 - t0) / 1e9,
                    number(info, "downtime"), number(info, "total-time"), number(ram, "transferred"), normal, zero,
                    (srcCpu1 - srcCpu0) / 1e9, (dstCpu1 - dstCpu0) / 1e9, srcRss, dstRss);
        } catch (IOException | TimeoutException | RuntimeException e) {
            String where = "";
            if (src != null && !src.isAlive()) {
                where += "\nsource output:\n" + src.tail();
            }
            if (dst != null && !dst.isAlive()) {
                where += "\ndestination output:\n" + dst.tail();
            }
            return RunResult.failed(impl, content, variant, n, e.getMessage() + where);
        } finally {
            if (src != null) {
                src.close();
            }
            if (dst != null) {
                dst.close();
            }
            try {
                Files.deleteIfExists(dstRam);
            } catch (IOException e) {
                // the directory is removed at the end anyway
            }
        }
    }

    /**
     * {@code migrate-incoming tcp:127.0.0.1:PORT} on a deferred destination; if the port was taken
     * meanwhile, again on another. Returns the port it listens on.
     */
    private static int listen(GuestProcess dst, int port) throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                dst.qmp().execute("migrate-incoming", Map.of("uri", "tcp:127.0.0.1:" + port));
                return port;
            } catch (RuntimeException e) {
                if (attempt >= START_ATTEMPTS || !String.valueOf(e.getMessage()).contains("in use")) {
                    throw e;
                }
                port = freeLoopbackPort();
            }
        }
    }

    /** Polls the destination until {@code completed}; returns the time it was seen. */
    private long awaitDestination(GuestProcess src, GuestProcess dst, long t0) throws TimeoutException {
        long deadline = t0 + TimeUnit.SECONDS.toNanos(options.timeoutS());
        for (int i = 0; ; i++) {
            String status = status(dst.qmp());
            long now = System.nanoTime();
            if ("completed".equals(status)) {
                return now;
            }
            if ("failed".equals(status)) {
                throw new IllegalStateException("destination migration failed: " + dst.qmp().executeForMap("query-migrate", Map.of()));
            }
            if (i % 10 == 9) {
                Map<String, Object> s = src.qmp().executeForMap("query-migrate", Map.of());
                if ("failed".equals(s.get("status")) || "cancelled".equals(s.get("status"))) {
                    throw new IllegalStateException("source migration " + s.get("status") + ": " + s.get("error-desc"));
                }
            }
            if (now > deadline) {
                throw new TimeoutException("destination not completed within " + options.timeoutS() + " s (status " + status + ")");
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
    }

    private Map<String, Object> awaitSource(GuestProcess src) throws TimeoutException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(options.timeoutS());
        while (true) {
            Map<String, Object> info = src.qmp().executeForMap("query-migrate", Map.of());
            Object status = info.get("status");
            if ("completed".equals(status)) {
                return info;
            }
            if ("failed".equals(status) || "cancelled".equals(status)) {
                throw new IllegalStateException("source migration " + status + ": " + info.get("error-desc"));
            }
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("source not completed within " + options.timeoutS() + " s (status " + status + ")");
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
    }

    private static String status(QmpClient qmp) {
        return String.valueOf(qmp.executeForMap("query-migrate", Map.of()).get("status"));
    }

    private static long number(Map<?, ?> map, String key) {
        if (map == null || !(map.get(key) instanceof Number n)) {
            throw new IllegalStateException("query-migrate has no numeric '" + key + "': " + map);
        }
        return n.longValue();
    }

    private static int freeLoopbackPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
