package io.livemig.cli.testing;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.qmpclient.QmpProcess;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real {@code qemu-system-x86_64} child process for interop system tests: the same spirit as
 * {@link VmProcess}, for the QEMU side.
 *
 * <p>The guest is always {@code -machine none,memory-backend=mem0 -m SIZE -object
 * memory-backend-file,id=mem0,size=SIZE,mem-path=FILE,share=on -nodefaults -display none}: one RAM
 * block named {@code mem0} whose bytes live in {@code FILE}, so a test can fill it before start and
 * compare it after a migration. QMP is {@code -qmp unix:<dir>/qemu-N.sock,server=on,wait=off}.
 * {@link #start} returns once QMP answers and is negotiated (bounded by {@link #START_TIMEOUT};
 * it fails early if QEMU exits). stdout and stderr go to {@code <dir>/qemu-N.log}, quoted in
 * failure messages. {@link #close} sends {@code quit}, waits, and kills QEMU if it does not exit.
 *
 * <p>A missing QEMU is a failure, not a skip: CI installs it, and a skipped interop test proves
 * nothing.
 */
public final class QemuProcess implements AutoCloseable {

    public static final String BINARY = "qemu-system-x86_64";
    public static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration EXIT_TIMEOUT = QmpProcess.EXIT_TIMEOUT;
    /** The RAM block's id (memory backend id), identical on both sides. */
    public static final String RAM_ID = "mem0";

    private static final int BIND_ATTEMPTS = 5;
    private static final AtomicInteger SEQ = new AtomicInteger();

    private final QmpProcess child;
    private final int incomingPort;

    private QemuProcess(QmpProcess child, int incomingPort) {
        this.child = child;
        this.incomingPort = incomingPort;
    }

    /** The QEMU binary on PATH; fails with the install hint when it is missing. */
    public static Path binary() {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, BINARY);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException(BINARY + " is not on PATH (" + path + "): the QEMU interop tests need"
                + " QEMU 7.2 (Debian: apt-get install -y qemu-system-x86); they fail rather than skip");
    }

    /** The guest arguments shared by QEMU and livemig: machine none with one file-backed RAM block. */
    public static List<String> guestArgs(String size, Path memPath) {
        return List.of("-machine", "none,memory-backend=" + RAM_ID, "-m", size,
                "-object", "memory-backend-file,id=" + RAM_ID + ",size=" + size + ",mem-path=" + memPath + ",share=on");
    }

    /**
     * Starts QEMU with the guest of {@link #guestArgs} and {@code extraArgs} (e.g. {@code -S},
     * {@code -incoming exec:…}) and returns once QMP is negotiated.
     */
    public static QemuProcess start(Path dir, String size, Path memPath, String... extraArgs)
            throws IOException, TimeoutException {
        return launch(dir, size, memPath, Arrays.asList(extraArgs), -1);
    }

    /**
     * Starts QEMU as a TCP migration destination, {@code -incoming tcp:127.0.0.1:PORT}. QEMU needs a
     * concrete port, so a free one is picked (bind port 0, close) and the start is retried when
     * another process took it meanwhile ("Address already in use").
     */
    public static QemuProcess startIncomingTcp(Path dir, String size, Path memPath, String... extraArgs)
            throws IOException, TimeoutException {
        IOException last = null;
        for (int attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
            int port = freeLoopbackPort();
            List<String> extra = new ArrayList<>(Arrays.asList(extraArgs));
            extra.addAll(List.of("-incoming", "tcp:127.0.0.1:" + port));
            try {
                return launch(dir, size, memPath, extra, port);
            } catch (IOException e) {
                if (!String.valueOf(e.getMessage()).contains("Address already in use")) {
                    throw e;
                }
                last = e;
            }
        }
        throw last;
    }

    /** A loopback TCP port that was free a moment ago. */
    public static int freeLoopbackPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static QemuProcess launch(Path dir, String size, Path memPath, List<String> extra, int port)
            throws IOException, TimeoutException {
        int n = SEQ.incrementAndGet();
        Path sock = dir.resolve("qemu-" + n + ".sock");
        Path log = dir.resolve("qemu-" + n + ".log");
        List<String> cmd = new ArrayList<>();
        cmd.add(binary().toString());
        cmd.addAll(guestArgs(size, memPath));
        cmd.addAll(List.of("-nodefaults", "-display", "none", "-qmp", "unix:" + sock + ",server=on,wait=off"));
        cmd.addAll(extra);
        Files.writeString(log, String.join(" ", cmd) + "\n", StandardCharsets.UTF_8);
        return new QemuProcess(QmpProcess.start(BINARY, cmd, sock, log, START_TIMEOUT), port);
    }

    /** The negotiated QMP client. */
    public QmpClient qmp() {
        return child.qmp();
    }

    /** The port of {@code -incoming tcp:127.0.0.1:PORT} ({@link #startIncomingTcp}), else -1. */
    public int incomingPort() {
        return incomingPort;
    }

    public Process process() {
        return child.process();
    }

    public Path logFile() {
        return child.log();
    }

    /** Everything QEMU printed so far (the first line is its command line). */
    public String output() {
        return child.output();
    }

    /** Sends {@code quit} if QEMU is alive, waits for it to exit, kills it otherwise. */
    @Override
    public void close() throws IOException {
        child.close();
    }
}
