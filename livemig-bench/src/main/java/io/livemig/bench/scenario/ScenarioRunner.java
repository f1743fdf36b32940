package io.livemig.bench.scenario;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The migration scenario runner ({@code bin/bench}): migrates a paused {@code -machine none}
 * guest between two processes of livemig, and of QEMU when it is installed, with the same RAM
 * content, and reports time, downtime, bytes, throughput, CPU and peak RSS per side.
 *
 * <p>Per scenario (RAM content): fill the source RAM file once from {@code SplittableRandom(1)};
 * then {@code runs} times: measure the loopback TCP ceiling, run livemig, run QEMU (with
 * {@code --compression none,zstd}: livemig none, QEMU none, livemig zstd, QEMU zstd; with
 * {@code --channels 1,2}: livemig 1, QEMU 1, livemig 2, QEMU 2). Alternating
 * the engines and variants run by run spreads any drift of a busy machine over all of them. Each run starts fresh
 * processes (see {@link MigrationRun}) and is verified by comparing the RAM files.
 *
 * <p>It lives in livemig-bench rather than as a {@code livemig bench} subcommand because it is a
 * measuring harness, not part of the product: it drives the product from outside, through its
 * command line and QMP, exactly as it drives QEMU, and ships with the JMH benchmarks in
 * {@code benchmarks.jar}. It reuses the CLI's QMP client.
 */
public final class ScenarioRunner {

    private final ScenarioOptions options;
    private final PrintStream log;

    public ScenarioRunner(ScenarioOptions options, PrintStream log) {
        this.options = options;
        this.log = log;
    }

    public static void main(String[] args) {
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.print(ScenarioOptions.USAGE);
            return;
        }
        ScenarioOptions options;
        try {
            options = ScenarioOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(2);
            return;
        }
        try {
            Report report = new ScenarioRunner(options, System.out).run();
            System.out.print(report.text());
            System.out.println("\nresults: " + options.out());
            System.exit(report.runs().stream().allMatch(RunResult::ok) ? 0 : 1);
        } catch (IOException | RuntimeException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(1);
        }
    }

    /** Runs every scenario, writes the JSON result file, and returns the report. */
    public Report run() throws IOException {
        if (options.qemu() && Implementation.qemuBinary().isEmpty()) {
            throw new IllegalStateException(Implementation.QEMU_BINARY
                    + " is not on PATH; install it (Debian: apt-get install -y qemu-system-x86) or pass --no-qemu");
        }
        Files.createDirectories(options.dir());
        log.printf(Locale.ROOT, "livemig processes: %s, AOT cache %s, LIVEMIG_JAVA_OPTS '%s'%n", options.livemigJar(),
                Implementation.aotCache(options.livemigJar()).map(Path::toString).orElse("none"),
                System.getenv().getOrDefault("LIVEMIG_JAVA_OPTS", ""));
        String loadBefore = ProcStats.loadAverage();
        List<RunResult> results = new ArrayList<>();
        Map<String, List<Double>> loopback = new LinkedHashMap<>();
        String qemuVersion = null;
        Path srcRam = options.dir().resolve("src.ram");
        MigrationRun runner = new MigrationRun(options, srcRam);
        try {
            for (RamContent c : options.contents()) {
                log.printf(Locale.ROOT, "filling %s with %s content (SplittableRandom seed %d)%n",
                        SizeFormat.human(options.size()), c.label(), RamContent.SEED);
                c.fill(srcRam, options.size());
                List<Double> lb = new ArrayList<>();
                for (int n = 1; n <= options.runs(); n++) {
                    double bps = LoopbackCeiling.measure(options.loopbackSize());
                    lb.add(bps);
                    log.printf(Locale.ROOT, "  loopback ceiling: %.0f MB/s%n", bps / 1e6);
                    for (Variant v : options.variants()) {
                        results.add(logged(runner.run(Implementation.LIVEMIG, c, v, n)));
                        if (options.qemu()) {
                            results.add(logged(runner.run(Implementation.QEMU, c, v, n)));
                        }
                    }
                }
                loopback.put(c.label(), List.copyOf(lb));
            }
            if (options.qemu()) {
                qemuVersion = qemuVersion();
            }
        } finally {
            Files.deleteIfExists(srcRam);
        }
        Report report = new Report(options, List.copyOf(results), loopback, loadBefore, ProcStats.loadAverage(), qemuVersion);
        report.writeJson(options.out());
        cleanUp();
        return report;
    }

    private RunResult logged(RunResult r) {
        String what = r.content().label() + " " + r.variant().channels() + "ch"
                + (r.compression() == null ? "" : " " + r.compression());
        if (r.ok()) {
            log.printf(Locale.ROOT, "  %-7s %-6s #%d: %.3f s, downtime %.0f ms, %.0f MiB on the wire, CPU src %.2f s dst %.2f s%n",
                    r.implementation().label(), what, r.run(), r.seconds(), r.downtimeMs(),
                    r.wireBytes() / (double) (1 << 20), r.srcCpuSeconds(), r.dstCpuSeconds());
        } else {
            log.printf(Locale.ROOT, "  %-7s %-6s #%d: FAILED: %s%n", r.implementation().label(), what, r.run(), r.error());
        }
        return r;
    }

    private static String qemuVersion() {
        try {
            Process p = new ProcessBuilder(Implementation.qemuBinary().orElseThrow().toString(), "--version")
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            p.waitFor();
            return out.lines().findFirst().orElse("?").trim();
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    /** Removes the sockets and RAM files; keeps logs and the result file. */
    private void cleanUp() throws IOException {
        try (Stream<Path> files = Files.list(options.dir())) {
            for (Path p : files.toList()) {
                String name = p.getFileName().toString();
                if (name.endsWith(".sock") || name.endsWith(".ram")) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
