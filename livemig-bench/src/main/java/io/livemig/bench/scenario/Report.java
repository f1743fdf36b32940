package io.livemig.bench.scenario;

import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The runner's results: every run, and per scenario the median and min–max of each figure per
 * column (implementation, and with multifd its compression) with ratios of the medians
 * (livemig / QEMU; with several variants, each against the first, per engine); printed as a
 * table and written as JSON.
 *
 * @param options      what was run
 * @param runs         every run, in the order run
 * @param loopback     loopback ceiling measurements, bytes/s, per scenario label
 * @param loadBefore   {@code /proc/loadavg} when the runner started
 * @param loadAfter    {@code /proc/loadavg} when it finished
 * @param qemuVersion  QEMU's {@code query-version} as text, or null without QEMU
 */
public record Report(ScenarioOptions options, List<RunResult> runs, Map<String, List<Double>> loopback,
                     String loadBefore, String loadAfter, String qemuVersion) {

    private static final double MIB = 1 << 20;

    /** A figure of a run, its name and unit. */
    record Figure(String key, String title, ToDoubleFunction<RunResult> value) {
    }

    /** The figures, in table order; {@code ramBytes} is the guest RAM size. */
    static List<Figure> figures(long ramBytes) {
        double gib = ramBytes / (double) (1L << 30);
        return List.of(
                new Figure("seconds", "time migrate -> dst completed (s)", RunResult::seconds),
                new Figure("downtime_ms", "downtime, source (ms)", RunResult::downtimeMs),
                new Figure("src_total_ms", "total-time, source (ms)", RunResult::srcTotalMs),
                new Figure("wire_mib", "bytes on the wire (MiB)", r -> r.wireBytes() / MIB),
                new Figure("wire_mb_per_s", "throughput, wire (MB/s)", r -> r.throughput() / 1e6),
                new Figure("ram_gib_per_s", "guest RAM moved (GiB/s)", r -> gib / r.seconds()),
                new Figure("src_cpu_s", "CPU source (s)", RunResult::srcCpuSeconds),
                new Figure("dst_cpu_s", "CPU destination (s)", RunResult::dstCpuSeconds),
                new Figure("src_cpu_s_per_gib", "CPU source (s/GiB)", r -> r.srcCpuSeconds() / gib),
                new Figure("dst_cpu_s_per_gib", "CPU destination (s/GiB)", r -> r.dstCpuSeconds() / gib),
                new Figure("src_peak_rss_mib", "peak RSS source (MiB)", r -> r.srcPeakRss() / MIB),
                new Figure("dst_peak_rss_mib", "peak RSS destination (MiB)", r -> r.dstPeakRss() / MIB),
                new Figure("src_rss_beyond_ram_mib", "RSS beyond guest RAM, source (MiB)", r -> (r.srcPeakRss() - ramBytes) / MIB),
                new Figure("dst_rss_beyond_ram_mib", "RSS beyond guest RAM, dst (MiB)", r -> (r.dstPeakRss() - ramBytes) / MIB));
    }

    /**
     * One column of the tables: an engine and a run variant. The label names the channels and the
     * compression only where the variants differ in them: {@code livemig}, {@code QEMU zstd},
     * {@code livemig 2ch}.
     */
    record Column(Implementation impl, Variant variant, String suffix) {
        String label() {
            return suffix.isEmpty() ? impl.label() : impl.label() + " " + suffix;
        }

        String key() {
            String k = impl.name().toLowerCase(Locale.ROOT);
            return suffix.isEmpty() ? k : k + "_" + suffix.replace(' ', '_');
        }
    }

    /** What names {@code v} among {@code all}: its channels and/or compression where they differ. */
    static String suffix(Variant v, List<Variant> all) {
        boolean channels = all.stream().map(Variant::channels).distinct().count() > 1;
        boolean compression = all.stream().filter(Variant::multifd).map(Variant::compression).distinct().count() > 1;
        List<String> parts = new ArrayList<>();
        if (channels) {
            parts.add(v.channels() + "ch");
        }
        if (compression && v.multifd()) {
            parts.add(v.compression());
        }
        return String.join(" ", parts);
    }

    /** The columns in run order: per variant, livemig then QEMU. */
    List<Column> columns() {
        List<Variant> all = options.variants();
        List<Column> cols = new ArrayList<>();
        for (Variant v : all) {
            cols.add(new Column(Implementation.LIVEMIG, v, suffix(v, all)));
            if (options.qemu()) {
                cols.add(new Column(Implementation.QEMU, v, suffix(v, all)));
            }
        }
        return cols;
    }

    /** A ratio of two columns' medians, {@code num / den}, and its title. */
    record Ratio(String title, Column num, Column den) {
    }

    /** livemig/QEMU per variant; with several variants, each against the first, per engine. */
    List<Ratio> ratios() {
        List<Ratio> list = new ArrayList<>();
        List<Column> cols = columns();
        if (options.qemu()) {
            for (int i = 0; i + 1 < cols.size(); i += 2) {
                Column l = cols.get(i);
                list.add(new Ratio(l.suffix().isEmpty() ? "livemig/QEMU" : "livemig/QEMU " + l.suffix(), l, cols.get(i + 1)));
            }
        }
        if (options.variants().size() > 1) {
            for (Column base : cols.subList(0, options.qemu() ? 2 : 1)) {
                for (Column c : cols) {
                    if (c.impl() == base.impl() && !c.variant().equals(base.variant())) {
                        list.add(new Ratio(base.impl().label() + " " + c.suffix() + "/" + base.suffix(), c, base));
                    }
                }
            }
        }
        return list;
    }

    List<RunResult> runsOf(Column col, RamContent content) {
        return runs.stream().filter(r -> r.implementation() == col.impl() && r.content() == content
                && r.variant().equals(col.variant())).toList();
    }

    /** The table of every scenario, and the failures. */
    String text() {
        StringBuilder b = new StringBuilder();
        List<Variant> vs = options.variants();
        String multifd = vs.stream().allMatch(Variant::multifd) ? ", multifd" : options.multifd() ? ", multifd where > 1" : "";
        if (options.multifd()) {
            multifd += ", compression " + String.join("/", vs.stream().filter(Variant::multifd).map(Variant::compression)
                    .distinct().toList());
        }
        b.append(String.format(Locale.ROOT, "%nguest RAM %s, %d run(s) per implementation, %s channel(s)%s, max-bandwidth %s;"
                        + " load before %s, after %s%n",
                SizeFormat.human(options.size()), options.runs(),
                String.join("/", options.channels().stream().map(String::valueOf).toList()), multifd,
                options.maxBandwidth() == 0 ? "0 (unlimited)" : options.maxBandwidth() + " B/s", loadBefore, loadAfter));
        if (qemuVersion != null) {
            b.append("QEMU ").append(qemuVersion).append('\n');
        }
        List<Column> cols = columns();
        List<Ratio> ratios = ratios();
        for (RamContent c : options.contents()) {
            b.append(String.format(Locale.ROOT, "%n== %s %s: ", c.label(), SizeFormat.human(options.size())));
            for (int i = 0; i < cols.size(); i++) {
                List<RunResult> rs = runsOf(cols.get(i), c);
                b.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%s %d/%d verified", cols.get(i).label(), ok(rs), rs.size()));
            }
            b.append(" ==\n");
            b.append(String.format(Locale.ROOT, "%-36s", "figure"));
            for (Column col : cols) {
                b.append(String.format(Locale.ROOT, " %-26s", col.label() + " median [min-max]"));
            }
            for (Ratio r : ratios) {
                b.append(' ').append(r.title());
            }
            b.append('\n');
            for (Figure f : figures(options.size())) {
                b.append(String.format(Locale.ROOT, "%-36s", f.title()));
                for (Column col : cols) {
                    b.append(String.format(Locale.ROOT, " %-26s", fmt(Stat.of(runsOf(col, c), f.value()))));
                }
                for (Ratio r : ratios) {
                    double ratio = Stat.of(runsOf(r.num(), c), f.value()).ratio(Stat.of(runsOf(r.den(), c), f.value()));
                    String v = Double.isFinite(ratio) ? String.format(Locale.ROOT, "%.2f", ratio) : "-";
                    b.append(' ').append(String.format(Locale.ROOT, "%-" + r.title().length() + "s", v));
                }
                b.append('\n');
            }
            Stat lb = Stat.ofValues(loopback.getOrDefault(c.label(), List.of()).stream().mapToDouble(d -> d / 1e6).toArray());
            b.append(String.format(Locale.ROOT, "%-36s %-26s%n", "loopback TCP ceiling (MB/s)", fmt(lb)));
            b.append(String.format(Locale.ROOT, "%-36s", "wire throughput / loopback"));
            for (int i = 0; i < cols.size(); i++) {
                Stat t = Stat.of(runsOf(cols.get(i), c), r -> r.throughput() / 1e6);
                b.append(String.format(Locale.ROOT, "%s %s %.0f %%", i == 0 ? "" : ",", cols.get(i).label(), 100 * t.median() / lb.median()));
            }
            b.append('\n');
        }
        List<RunResult> failed = runs.stream().filter(r -> !r.ok()).toList();
        if (!failed.isEmpty()) {
            b.append("\nFAILED runs:\n");
            for (RunResult r : failed) {
                b.append(String.format(Locale.ROOT, "  %s %s%s #%d: %s%n", r.implementation().label(), r.content().label(),
                        r.compression() == null ? "" : " " + r.compression(), r.run(), r.error()));
            }
        }
        return b.toString();
    }

    private static int ok(List<RunResult> runs) {
        return (int) runs.stream().filter(RunResult::ok).count();
    }

    private static String fmt(Stat s) {
        if (s.n() == 0) {
            return "-";
        }
        return String.format(Locale.ROOT, "%s [%s-%s]", num(s.median()), num(s.min()), num(s.max()));
    }

    private static String num(double v) {
        double a = Math.abs(v);
        return String.format(Locale.ROOT, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", v);
    }

    /** The whole report as a JSON tree of maps and lists. */
    Map<String, Object> json() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("guest_ram_bytes", options.size());
        root.put("runs_per_implementation", options.runs());
        root.put("channels", options.channels());
        root.put("max_bandwidth", options.maxBandwidth());
        root.put("multifd", options.multifd());
        root.put("compressions", options.compressions());
        root.put("load_before", loadBefore);
        root.put("load_after", loadAfter);
        root.put("qemu_version", qemuVersion);
        List<Object> scenarios = new ArrayList<>();
        for (RamContent c : options.contents()) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("content", c.label());
            s.put("loopback_bytes_per_s", loopback.getOrDefault(c.label(), List.of()));
            for (Column col : columns()) {
                List<RunResult> rs = runsOf(col, c);
                if (rs.isEmpty()) {
                    continue;
                }
                Map<String, Object> figs = new LinkedHashMap<>();
                for (Figure f : figures(options.size())) {
                    Stat st = Stat.of(rs, f.value());
                    figs.put(f.key(), Map.of("median", nan(st.median()), "min", nan(st.min()), "max", nan(st.max()), "n", st.n()));
                }
                Map<String, Object> v = new LinkedHashMap<>();
                v.put("channels", col.variant().channels());
                v.put("compression", col.variant().compression());
                v.put("summary", figs);
                v.put("runs", rs.stream().map(Report::runJson).toList());
                s.put(col.key(), v);
            }
            scenarios.add(s);
        }
        root.put("scenarios", scenarios);
        return root;
    }

    private static Map<String, Object> runJson(RunResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("run", r.run());
        m.put("channels", r.variant().channels());
        m.put("compression", r.compression());
        m.put("ok", r.ok());
        m.put("error", r.error());
        m.put("seconds", nan(r.seconds()));
        m.put("downtime_ms", nan(r.downtimeMs()));
        m.put("src_total_ms", nan(r.srcTotalMs()));
        m.put("wire_bytes", r.wireBytes());
        m.put("normal_pages", r.normalPages());
        m.put("zero_pages", r.zeroPages());
        m.put("src_cpu_s", nan(r.srcCpuSeconds()));
        m.put("dst_cpu_s", nan(r.dstCpuSeconds()));
        m.put("src_peak_rss_bytes", r.srcPeakRss());
        m.put("dst_peak_rss_bytes", r.dstPeakRss());
        return m;
    }

    private static Object nan(double v) {
        return Double.isNaN(v) ? null : v;
    }

    void writeJson(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        JsonMapper mapper = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
        Files.writeString(file, mapper.writeValueAsString(json()));
    }
}
