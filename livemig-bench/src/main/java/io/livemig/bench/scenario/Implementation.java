package io.livemig.bench.scenario;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The two migration engines the runner compares, and how each is started. Both get the same
 * guest: {@code -machine none} with one file-backed, shared, preallocated RAM block, paused
 * ({@code -S}), QMP on a unix socket.
 */
public enum Implementation {
    LIVEMIG("livemig"),
    QEMU("QEMU");

    public static final String QEMU_BINARY = "qemu-system-x86_64";
    static final String RAM_ID = "mem0";

    private final String label;

    Implementation(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The command line of one guest process; {@code incoming} is its {@code -incoming} URI, or null for a source. */
    List<String> command(ScenarioOptions o, Path memPath, Path qmpSocket, String incoming) {
        List<String> cmd = new ArrayList<>();
        switch (this) {
            case LIVEMIG -> {
                cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
                cmd.add("--enable-native-access=ALL-UNNAMED");
                aotCache(o.livemigJar()).ifPresent(aot -> cmd.add("-XX:AOTCache=" + aot));
                String opts = System.getenv("LIVEMIG_JAVA_OPTS");
                if (opts != null && !opts.isBlank()) {
                    cmd.addAll(List.of(opts.trim().split("\\s+")));
                }
                cmd.add("-jar");
                cmd.add(o.livemigJar().toString());
                cmd.add("vm");
            }
            case QEMU -> cmd.add(qemuBinary().orElseThrow(() -> new IllegalStateException(
                    QEMU_BINARY + " is not on PATH; install it (Debian: apt-get install -y qemu-system-x86) or pass --no-qemu"))
                    .toString());
        }
        String size = o.sizeArg();
        cmd.addAll(List.of("-machine", "none,memory-backend=" + RAM_ID, "-m", size,
                "-object", "memory-backend-file,id=" + RAM_ID + ",size=" + size + ",mem-path=" + memPath
                        + ",share=on,prealloc=on",
                "-S", "-qmp", "unix:" + qmpSocket + ",server=on,wait=off"));
        if (this == QEMU) {
            cmd.addAll(List.of("-nodefaults", "-display", "none"));
        }
        if (incoming != null) {
            cmd.addAll(List.of("-incoming", incoming));
        }
        return cmd;
    }

    /**
     * The JDK AOT cache {@code bin/bench} trained for {@code jar} ({@code livemig.aot} beside
     * {@code livemig.jar}, see {@code bin/aot.sh}), when it exists and is not older than the jar,
     * unless {@code LIVEMIG_AOT=0}: the same rule as {@code bin/livemig}, so the benchmark runs
     * livemig as users do.
     */
    static Optional<Path> aotCache(Path jar) {
        if ("0".equals(System.getenv("LIVEMIG_AOT"))) {
            return Optional.empty();
        }
        String name = jar.getFileName().toString();
        Path aot = jar.resolveSibling(name.endsWith(".jar") ? name.substring(0, name.length() - 4) + ".aot" : name + ".aot");
        try {
            if (Files.isRegularFile(aot)
                    && Files.getLastModifiedTime(aot).compareTo(Files.getLastModifiedTime(jar)) >= 0) {
                return Optional.of(aot);
            }
        } catch (java.io.IOException e) {
            // unreadable: run without the cache
        }
        return Optional.empty();
    }

    /** {@code qemu-system-x86_64} on PATH, if any. */
    public static Optional<Path> qemuBinary() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, QEMU_BINARY))) {
                return Optional.of(Path.of(d, QEMU_BINARY));
            }
        }
        return Optional.empty();
    }
}
