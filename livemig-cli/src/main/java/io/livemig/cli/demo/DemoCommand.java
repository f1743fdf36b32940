package io.livemig.cli.demo;

import io.livemig.cli.Sizes;
import io.livemig.cli.qmpclient.QmpErrorException;
import io.livemig.cli.qmpclient.QmpProcess;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * {@code livemig demo}: starts a destination and a source as two local {@code livemig vm}
 * processes with file-backed RAM, migrates the live source over TCP through QMP (as a QEMU user
 * would), shows progress, then prints the figures and checks that the destination's RAM equals
 * the source's at switchover (the source is stopped from switchover on, so its RAM file is the
 * switchover state; the destination has no workload, so its RAM stays as loaded).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Migrate a live guest between two local livemig processes and verify the result.")
public final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--size", defaultValue = "1G", description = "guest RAM size (default ${DEFAULT-VALUE})")
    String size;

    @Option(names = "--fill", defaultValue = "mixed", description = "initial RAM: mixed (half random, half zero), random or zero (default ${DEFAULT-VALUE})")
    String fill;

    @Option(names = "--dirty-rate", defaultValue = "32M", description = "workload bytes/s of dirtied pages, or 'max', or 0 for none (default ${DEFAULT-VALUE})")
    String dirtyRate;

    @Option(names = "--pattern", defaultValue = "random", description = "workload pattern: random, sequential or hotset (default ${DEFAULT-VALUE})")
    String pattern;

    @Option(names = "--hotset-size", defaultValue = "64M", description = "hot set size for --pattern hotset (default ${DEFAULT-VALUE})")
    String hotsetSize;

    @Option(names = "--max-bandwidth", defaultValue = "128M", description = "max-bandwidth in bytes/s, 0 = unlimited (default ${DEFAULT-VALUE}, QEMU's)")
    String maxBandwidth;

    @Option(names = "--downtime-limit", defaultValue = "300", description = "downtime-limit in ms (default ${DEFAULT-VALUE})")
    long downtimeLimit;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the RAM content and the workload (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--timeout", defaultValue = "300", description = "give up after this many seconds (default ${DEFAULT-VALUE})")
    long timeoutSeconds;

    @Option(names = "--keep", description = "keep the work directory (RAM files, logs)")
    boolean keep;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long guest = size("--size", size, 1);
        if (guest <= 0 || guest % 4096 != 0) {
            throw new ParameterException(spec.commandLine(), "--size must be a positive multiple of 4 KiB, got '" + size + "'");
        }
        if (!List.of("mixed", "random", "zero").contains(fill)) {
            throw new ParameterException(spec.commandLine(), "--fill must be mixed, random or zero, got '" + fill + "'");
        }
        long bandwidth = size("--max-bandwidth", maxBandwidth, 1);
        if (downtimeLimit < 0 || downtimeLimit > 2_000_000) {
            throw new ParameterException(spec.commandLine(), "--downtime-limit must be 0..2000000 ms, got " + downtimeLimit);
        }
        Path dir = GuestFiles.workDir(guest);
        try {
            return run(out, dir, guest, bandwidth);
        } catch (DemoException e) {
            err.println("livemig demo: " + e.getMessage());
            return 1;
        } finally {
            if (keep) {
                out.println("work directory kept: " + dir);
            } else {
                deleteTree(dir);
            }
        }
    }

    private int run(PrintWriter out, Path dir, long guest, long bandwidth) throws IOException, DemoException {
        Path srcRam = dir.resolve("src.ram");
        Path dstRam = dir.resolve("dst.ram");
        out.printf(Locale.ROOT, "livemig demo: %s guest (%s RAM), workload %s at %s, max-bandwidth %s, downtime-limit %d ms%n",
                size, fill, pattern, dirtyRate.equals("0") ? "none" : dirtyRate + "/s", bandwidth == 0 ? "unlimited" : maxBandwidth + "/s",
                downtimeLimit);
        out.println("preparing RAM files in " + dir + " ...");
        out.flush();
        GuestFiles.fill(srcRam, guest, fill, seed);
        GuestFiles.fill(dstRam, guest, "zero", seed);

        List<String> dstArgs = machine(guest, dstRam);
        dstArgs.addAll(List.of("-incoming", "tcp:127.0.0.1:0"));
        List<String> srcArgs = machine(guest, srcRam);
        if (!dirtyRate.equals("0")) {
            String w = "target=mem0,dirty-rate=" + dirtyRate + ",pattern=" + pattern + ",seed=" + seed
                    + (pattern.equals("hotset") ? ",hotset-size=" + hotsetSize : "");
            srcArgs.addAll(List.of("-workload", w));
        }
        try (QmpProcess dst = GuestProcess.start("destination", dir, dstArgs);
             QmpProcess src = GuestProcess.start("source", dir, srcArgs)) {
            try {
                return migrate(out, src, dst, guest, bandwidth, srcRam, dstRam);
            } catch (QmpErrorException | IllegalStateException e) {
                throw new DemoException(e.getMessage() + "\nsource log:\n" + src.outputTail(20)
                        + "\ndestination log:\n" + dst.outputTail(20));
            }
        }
    }

    private int migrate(PrintWriter out, QmpProcess src, QmpProcess dst, long guest, long bandwidth,
                        Path srcRam, Path dstRam) throws IOException, DemoException {
        src.qmp().execute("migrate-set-capabilities", Map.of("capabilities", List.of(
                Map.of("capability", "events", "state", true),
                Map.of("capability", "return-path", "state", true))));
        src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", bandwidth, "downtime-limit", downtimeLimit));
        Map<String, Object> dstInfo = dst.qmp().executeForMap("query-migrate", Map.of());
        String port = ((Map<?, ?>) ((List<?>) dstInfo.get("socket-address")).getFirst()).get("port").toString();
        String uri = "tcp:127.0.0.1:" + port;
        out.println("source and destination are up; migrate " + uri);
        out.flush();

        ProgressView view = new ProgressView(out, System.console() != null);
        long start = System.nanoTime();
        long deadline = start + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        src.qmp().execute("migrate", Map.of("uri", uri));
        Map<String, Object> info;
        while (true) {
            info = src.qmp().executeForMap("query-migrate", Map.of());
            view.update(info, System.nanoTime() - start);
            String status = String.valueOf(info.get("status"));
            if (List.of("completed", "failed", "cancelled").contains(status)) {
                break;
            }
            if (System.nanoTime() > deadline) {
                src.qmp().execute("migrate_cancel");
                view.finish();
                throw new DemoException("no convergence within " + timeoutSeconds + " s (dirty rate too high for the bandwidth?);"
                        + " the migration was cancelled and the source keeps running");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        view.finish();
        if (!"completed".equals(info.get("status"))) {
            throw new DemoException("migration " + info.get("status") + ": " + info.getOrDefault("error-desc", "(no error-desc)"));
        }
        awaitDestination(dst, deadline);
        String srcState = String.valueOf(src.qmp().executeForMap("query-status", Map.of()).get("status"));
        String dstState = String.valueOf(dst.qmp().executeForMap("query-status", Map.of()).get("status"));
        printSummary(out, info, srcState, dstState);
        long mismatch = Files.mismatch(srcRam, dstRam);
        if (mismatch != -1) {
            out.printf(Locale.ROOT, "NOT VERIFIED: destination RAM differs from the source's at byte %d%n", mismatch);
            return 1;
        }
        out.printf(Locale.ROOT, "verified: destination RAM equals source RAM at switchover (%d bytes, block mem0)%n", guest);
        return 0;
    }

    private static void awaitDestination(QmpProcess dst, long deadline) throws DemoException {
        while (true) {
            Object st = dst.qmp().executeForMap("query-migrate", Map.of()).get("status");
            if ("completed".equals(st)) {
                return;
            }
            if ("failed".equals(st) || System.nanoTime() > deadline) {
                throw new DemoException("destination did not complete (status " + st + ")");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    private void printSummary(PrintWriter out, Map<String, Object> info, String srcState, String dstState) {
        Map<?, ?> ram = (Map<?, ?>) info.get("ram");
        long total = ProgressView.num(info.get("total-time"));
        long transferred = ProgressView.num(ram.get("transferred"));
        out.printf(Locale.ROOT, "migration completed in %d ms (setup %d ms), %d dirty-log passes%n",
                total, ProgressView.num(info.get("setup-time")), ProgressView.num(ram.get("dirty-sync-count")));
        out.printf(Locale.ROOT, "downtime      %d ms (limit %d ms)%n", ProgressView.num(info.get("downtime")), downtimeLimit);
        out.printf(Locale.ROOT, "transferred  %s  (%d normal pages, %d zero pages)%n", ProgressView.mib(transferred),
                ProgressView.num(ram.get("normal")), ProgressView.num(ram.get("duplicate")));
        out.printf(Locale.ROOT, "throughput   %.0f Mbps (%.1f MiB/s over the whole migration)%n",
                ram.get("mbps") instanceof Number n ? n.doubleValue() : 0.0,
                total > 0 ? transferred / 1048576.0 / (total / 1000.0) : 0.0);
        out.printf(Locale.ROOT, "run states   source %s, destination %s%n", srcState, dstState);
        out.flush();
    }

    private List<String> machine(long guest, Path ram) {
        List<String> a = new ArrayList<>();
        a.addAll(List.of("-machine", "none,memory-backend=mem0", "-m", guest + "B", "-nodefaults", "-display", "none",
                "-object", "memory-backend-file,id=mem0,size=" + guest + "B,mem-path=" + ram + ",share=on"));
        return a;
    }

    private long size(String option, String text, long bareUnit) {
        long v = Sizes.parse(text, bareUnit);
        if (v < 0) {
            throw new ParameterException(spec.commandLine(), option + ": invalid size '" + text + "' (use k, M, G or T suffixes)");
        }
        return v;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // best effort: the directory is temporary
        }
    }
}
