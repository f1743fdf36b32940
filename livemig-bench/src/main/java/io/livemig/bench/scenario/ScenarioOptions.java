package io.livemig.bench.scenario;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The scenario runner's options, parsed and validated once, at the edge: inner code trusts them.
 *
 * <pre>
 * bin/bench [--size 1G] [--content random|zero|mixed|text[,…]] [--runs 5] [--no-qemu] [--channels 1]
 *           [--compression none|zlib|zstd[,…]] [--max-bandwidth 0] [--dir DIR] [--out FILE] [--livemig-jar JAR] [--loopback-size 1G] [--timeout-s 120]
 * </pre>
 *
 * @param size         guest RAM in bytes (a multiple of 4 KiB, at least 1 MiB)
 * @param contents     RAM contents, one scenario each, in order
 * @param runs         runs per implementation and scenario
 * @param qemu         also run QEMU (alternating with livemig)
 * @param channels     migration channel counts, one run variant each, in order; above 1, both
 *                     engines migrate with multifd, this many channels
 * @param dir          working directory for RAM files, sockets and logs
 * @param out          the JSON result file
 * @param livemigJar   the shaded {@code livemig.jar}
 * @param loopbackSize bytes moved by one loopback ceiling measurement
 * @param timeoutS     longest wait for one migration, seconds
 * @param maxBandwidth {@code max-bandwidth} set on both sources, bytes/s; 0 = unlimited
 * @param compressions {@code --compression}: the {@code multifd-compression} of each run variant,
 *                     in order; empty when not given (then multifd only where channels > 1, with none)
 */
public record ScenarioOptions(long size, List<RamContent> contents, int runs, boolean qemu, List<Integer> channels,
                              Path dir, Path out, Path livemigJar, long loopbackSize, int timeoutS,
                              long maxBandwidth, List<String> compressions) {

    /** The {@code multifd-compression} methods of QEMU 7.2, which livemig has too. */
    static final List<String> COMPRESSIONS = List.of("none", "zlib", "zstd");

    static final String USAGE = """
            usage: bin/bench [options]
              --size SIZE            guest RAM, e.g. 64M, 1G (default 1G; multiple of 4K, >= 1M)
              --content KINDS        random|zero|mixed|text, comma-separated (default random,zero,mixed);
                                     text: English-like sentences, ~4.8x by zstd level 1, no zero page
              --runs N               rounds, 1..100 (default 5): runs per implementation, variant and scenario
              --no-qemu              measure livemig alone (default: QEMU too, alternating runs)
              --channels N[,N…]      migration channels, 1..64 (default 1). N > 1 turns multifd on, N channels,
                                     on both engines (the destination: -incoming defer, then multifd set,
                                     then migrate-incoming). Several: one run of each per round, alternating
              --compression METHODS  none|zlib|zstd, comma-separated: multifd-compression, one run of each
                                     per round, alternating (zlib and zstd at level 1, the defaults).
                                     Turns multifd on for every run, with --channels N channels (1 too)
              --dir DIR              RAM files, sockets, logs (default /dev/shm/livemig-bench-PID)
              --out FILE             JSON result file (default DIR/bench-result.json)
              --livemig-jar JAR      livemig-cli/target/livemig.jar (default: that path under the cwd)
              --loopback-size SIZE   bytes per loopback ceiling measurement (default 1G)
              --timeout-s N          longest wait for one migration, seconds (default 120)
              --max-bandwidth BYTES  max-bandwidth on both sources, every variant (default 0: unlimited in
                                     livemig and in QEMU 7.2 alike). With multifd zstd, livemig counts the
                                     compressed bytes against it, QEMU 7.2 the uncompressed pages
            """;

    /** Parses {@code args}; throws {@link IllegalArgumentException} naming the option, the value and the rule. */
    public static ScenarioOptions parse(String... args) {
        long size = 1L << 30;
        List<RamContent> contents = List.of(RamContent.values());
        int runs = 5;
        boolean qemu = true;
        List<Integer> channels = List.of(1);
        Path dir = null;
        Path out = null;
        Path jar = Path.of(System.getProperty("livemig.jar", "livemig-cli/target/livemig.jar"));
        long loopback = 1L << 30;
        int timeout = 120;
        long maxBandwidth = 0;
        List<String> compressions = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--no-qemu" -> qemu = false;
                case "--size" -> size = parseSize(a, value(args, ++i, a));
                case "--content" -> contents = parseContents(value(args, ++i, a));
                case "--runs" -> runs = parseInt(a, value(args, ++i, a), 1, 100);
                case "--channels" -> channels = parseChannels(value(args, ++i, a));
                case "--dir" -> dir = Path.of(value(args, ++i, a));
                case "--out" -> out = Path.of(value(args, ++i, a));
                case "--livemig-jar" -> jar = Path.of(value(args, ++i, a));
                case "--loopback-size" -> loopback = parseSize(a, value(args, ++i, a));
                case "--timeout-s" -> timeout = parseInt(a, value(args, ++i, a), 1, 3600);
                case "--max-bandwidth" -> maxBandwidth = parseBandwidth(a, value(args, ++i, a));
                case "--compression" -> compressions = parseCompressions(value(args, ++i, a));
                default -> throw new IllegalArgumentException("unknown option '" + a + "'\n" + USAGE);
            }
        }
        if (size % 4096 != 0 || size < (1L << 20)) {
            throw new IllegalArgumentException("--size must be a multiple of 4K and at least 1M, got " + size);
        }
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("--livemig-jar: no such file " + jar.toAbsolutePath()
                    + " (build it: mvn -B -q -ntp -DskipTests -pl livemig-cli -am package)");
        }
        if (dir == null) {
            Path shm = Path.of("/dev/shm");
            dir = (Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")))
                    .resolve("livemig-bench-" + ProcessHandle.current().pid());
        }
        if (out == null) {
            out = dir.resolve("bench-result.json");
        }
        return new ScenarioOptions(size, contents, runs, qemu, channels, dir, out, jar.toAbsolutePath(), loopback, timeout,
                maxBandwidth, compressions == null ? List.of() : compressions);
    }

    /**
     * The run variants of each round, in order: per channel count, per compression. Without
     * {@code --compression}, one channel is the classic stream and more are multifd with none.
     */
    public List<Variant> variants() {
        List<Variant> list = new ArrayList<>();
        for (int ch : channels) {
            if (compressions.isEmpty()) {
                list.add(new Variant(ch, ch > 1 ? "none" : null));
            } else {
                for (String c : compressions) {
                    list.add(new Variant(ch, c));
                }
            }
        }
        return List.copyOf(list);
    }

    /** Whether any run uses multifd. */
    public boolean multifd() {
        return variants().stream().anyMatch(Variant::multifd);
    }

    /** The size as QEMU's {@code -m} and {@code size=} take it: bytes with a unit suffix when exact. */
    public String sizeArg() {
        return SizeFormat.qemuSize(size);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value\n" + USAGE);
        }
        return args[i];
    }

    static long parseSize(String option, String v) {
        String s = v.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B")) {
            s = s.substring(0, s.length() - 1);
        }
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> mult = 1L << 10;
                case 'M' -> mult = 1L << 20;
                case 'G' -> mult = 1L << 30;
                case 'T' -> mult = 1L << 40;
                default -> mult = 1;
            }
            if (mult != 1) {
                s = s.substring(0, s.length() - 1);
            }
        }
        try {
            long n = Long.parseLong(s);
            if (n <= 0 || n > Long.MAX_VALUE / mult) {
                throw new NumberFormatException();
            }
            return n * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be a positive size like 64M or 1G, got '" + v + "'", e);
        }
    }

    private static long parseBandwidth(String option, String v) {
        return v.trim().equals("0") ? 0 : parseSize(option, v);
    }

    private static int parseInt(String option, String v, int min, int max) {
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be " + min + ".." + max + ", got '" + v + "'");
    }

    private static List<RamContent> parseContents(String v) {
        List<RamContent> list = new ArrayList<>();
        for (String part : v.split(",")) {
            RamContent c = RamContent.byName(part.trim());
            if (c == null) {
                throw new IllegalArgumentException("--content must be random, zero, mixed or text (comma-separated), got '"
                        + part + "'");
            }
            if (!list.contains(c)) {
                list.add(c);
            }
        }
        return List.copyOf(list);
    }

    private static List<Integer> parseChannels(String v) {
        List<Integer> list = new ArrayList<>();
        for (String part : v.split(",", -1)) {
            int n = parseInt("--channels", part, 1, 64);
            if (!list.contains(n)) {
                list.add(n);
            }
        }
        return List.copyOf(list);
    }

    private static List<String> parseCompressions(String v) {
        List<String> list = new ArrayList<>();
        for (String part : v.split(",", -1)) {
            String c = part.trim().toLowerCase(Locale.ROOT);
            if (!COMPRESSIONS.contains(c)) {
                throw new IllegalArgumentException("--compression must be none, zlib or zstd (comma-separated), got '"
                        + part + "'");
            }
            if (!list.contains(c)) {
                list.add(c);
            }
        }
        return List.copyOf(list);
    }
}
