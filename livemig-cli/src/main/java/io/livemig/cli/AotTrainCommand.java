package io.livemig.cli;

import io.livemig.cli.qmp.QmpServer;
import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.vm.PagePathWarmup;
import io.livemig.vm.VirtualMachine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code livemig aot-train} (hidden): the training run of the JDK's AOT cache. {@code bin/livemig}
 * and {@code bin/bench} run it once per jar build as
 * {@code java -XX:AOTCacheOutput=livemig.aot -jar livemig.jar aot-train} and start every later
 * livemig process with {@code -XX:AOTCache=livemig.aot}.
 *
 * <p>Why: each migration runs in fresh JVMs, so the page loops used to start in the interpreter
 * and C1 while the JIT threads competed with them for this machine's two CPUs (the second
 * migration from one process took half the first one's time). The cache holds the classes,
 * already loaded and linked, and the method profiles of this run (JEP 483, 515), so the hot
 * loops reach C2 sooner.
 *
 * <p>What it does: in this one JVM, exactly the processes {@code bin/bench} starts, a source and a
 * destination {@code vm} with a file-backed, shared, preallocated RAM block, each with its QMP
 * server on a unix socket; it fills the source with half random, half zero pages, migrates it
 * over loopback TCP through QMP (polling {@code query-migrate}, as the bench and management tools
 * do), checks the destination's RAM and quits both. It does this {@code --rounds} times with a
 * fresh destination. Files go to a temporary directory that is removed at the end.
 */
@Command(name = "aot-train", hidden = true,
        description = "Training run for the JDK AOT cache: migrate a guest between two in-process vms.")
final class AotTrainCommand implements Callable<Integer> {

    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    @Option(names = "--size", defaultValue = "256M", description = "guest RAM (default ${DEFAULT-VALUE})")
    String size;

    @Option(names = "--rounds", defaultValue = "2", description = "migrations, each to a fresh destination (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--multifd-rounds", defaultValue = "2",
            description = "of the rounds, the last ones with multifd, 2 channels (default ${DEFAULT-VALUE})")
    int multifdRounds;

    @Override
    public Integer call() throws Exception {
        Path shm = Path.of("/dev/shm");
        Path dir = Files.createTempDirectory(Files.isDirectory(shm) && Files.isWritable(shm) ? shm
                : Path.of(System.getProperty("java.io.tmpdir")), "livemig-aot-train-");
        try {
            Guest src = Guest.start(dir, "src", size, -1);
            try {
                // a fresh file: zero pages need no writing
                PagePathWarmup.fillMixed(src.vm.memory().blocks().getFirst());
                for (int r = 1; r <= rounds + multifdRounds; r++) {
                    int port = freePort();
                    Guest dst = Guest.start(dir, "dst" + r, size, port);
                    try {
                        if (r > rounds) {
                            for (Guest g : List.of(src, dst)) {
                                g.qmp.execute("migrate-set-capabilities",
                                        Map.of("capabilities", List.of(Map.of("capability", "multifd", "state", true))));
                            }
                        }
                        src.qmp.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port));
                        await(dst.qmp, "destination");
                        await(src.qmp, "source");
                        MemorySegment a = src.vm.memory().blocks().getFirst().segment();
                        MemorySegment b = dst.vm.memory().blocks().getFirst().segment();
                        if (a.mismatch(b) != -1) {
                            throw new IllegalStateException("aot-train: destination RAM differs from the source's");
                        }
                    } finally {
                        dst.close();
                    }
                }
            } finally {
                src.close();
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
        return Main.EXIT_OK;
    }

    private static void await(QmpClient qmp, String side) throws TimeoutException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            Object status = qmp.executeForMap("query-migrate", Map.of()).get("status");
            if ("completed".equals(status)) {
                return;
            }
            if ("failed".equals(status) || "cancelled".equals(status)) {
                throw new IllegalStateException("aot-train: " + side + " migration " + status + ": "
                        + qmp.executeForMap("query-migrate", Map.of()));
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
        throw new TimeoutException("aot-train: " + side + " not completed within " + TIMEOUT);
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** One in-process {@code livemig vm} with its QMP server and a negotiated client. */
    private record Guest(VirtualMachine vm, QmpServer server, QmpClient qmp) implements AutoCloseable {

        static Guest start(Path dir, String name, String size, int incomingPort) throws Exception {
            Path sock = dir.resolve(name + ".sock");
            List<String> args = new ArrayList<>(List.of("-machine", "none,memory-backend=mem0", "-m", size,
                    "-object", "memory-backend-file,id=mem0,size=" + size + ",mem-path=" + dir.resolve(name + ".ram")
                            + ",share=on,prealloc=on",
                    "-S", "-qmp", "unix:" + sock + ",server=on,wait=off"));
            if (incomingPort > 0) {
                args.addAll(List.of("-incoming", "tcp:127.0.0.1:" + incomingPort));
            }
            VmCommandLine.Parsed parsed = VmCommandLine.parse(args);
            VirtualMachine vm = VirtualMachine.start(parsed.config());
            QmpServer server;
            try {
                server = QmpServer.start(vm, parsed.qmp(), Main.version(), () -> { });
            } catch (IOException e) {
                vm.close();
                throw e;
            }
            try {
                return new Guest(vm, server, QmpClient.connectAndNegotiate(sock, Duration.ofSeconds(10)));
            } catch (IOException | TimeoutException e) {
                server.close(1000);
                vm.close();
                throw e;
            }
        }

        @Override
        public void close() throws IOException {
            qmp.close();
            server.close(1000);
            vm.close();
        }
    }
}
