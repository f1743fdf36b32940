package io.livemig.bench.scenario;

import io.livemig.cli.qmpclient.QmpClient;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One guest process (livemig or QEMU) of a benchmark run, with its negotiated QMP client. Output
 * goes to a log file whose tail is quoted when the process fails. {@link #close} sends
 * {@code quit}, waits, and kills the process if it does not exit.
 */
final class GuestProcess implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(15);

    private final String name;
    private final Process process;
    private final Path log;
    private QmpClient qmp;

    private GuestProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** Launches the process; {@link #awaitQmp} must follow before use. */
    static GuestProcess launch(String name, List<String> cmd, Path log) throws IOException {
        Files.writeString(log, String.join(" ", cmd) + "\n", StandardCharsets.UTF_8);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        return new GuestProcess(name, p, log);
    }

    /** Waits until QMP answers on {@code sock} and negotiates it; fails early if the process exits. */
    void awaitQmp(Path sock) throws IOException, TimeoutException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited with status " + process.exitValue() + " before QMP answered:\n" + tail());
            }
            if (Files.exists(sock) && canConnect(sock)) {
                qmp = QmpClient.connectAndNegotiate(sock, Duration.ofSeconds(10));
                return;
            }
            try {
                // a bounded wait that ends early if the process dies
                process.onExit().get(10, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                // still starting
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            } catch (ExecutionException e) {
                throw new IOException(e);
            }
        }
        throw new TimeoutException(name + " did not answer QMP on " + sock + " within " + START_TIMEOUT + ":\n" + tail());
    }

    private static boolean canConnect(Path sock) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    QmpClient qmp() {
        return qmp;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** The last lines of the process's output, for error messages. */
    String tail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        try {
            if (process.isAlive() && qmp != null) {
                try {
                    qmp.execute("quit");
                } catch (RuntimeException e) {
                    // already quitting or the connection is gone: wait or kill below
                }
            }
            if (!process.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            if (qmp != null) {
                try {
                    qmp.close();
                } catch (IOException e) {
                    // the process is gone; nothing to report
                }
            }
        }
    }
}
