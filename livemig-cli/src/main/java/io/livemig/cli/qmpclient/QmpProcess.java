package io.livemig.cli.qmpclient;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A child process driven over QMP on a unix socket: a {@code livemig vm} (the demo, system tests)
 * or a {@code qemu-system-x86_64} (interop tests).
 *
 * <p>{@link #start} appends the process's output to a log file, then waits — bounded by a hard
 * timeout, ending early if the process dies — until the socket accepts a connection, and returns
 * with {@link #qmp()} negotiated. Errors quote the log. {@link #close} sends {@code quit}, waits,
 * and kills the process if it does not exit.
 */
public final class QmpProcess implements AutoCloseable {

    public static final Duration EXIT_TIMEOUT = Duration.ofSeconds(15);
    private static final long POLL_MILLIS = 20;

    private final String name;
    private final Process process;
    private final Path socket;
    private final Path log;
    private final QmpClient qmp;

    private QmpProcess(String name, Process process, Path socket, Path log, QmpClient qmp) {
        this.name = name;
        this.process = process;
        this.socket = socket;
        this.log = log;
        this.qmp = qmp;
    }

    /**
     * Starts {@code command} (which must serve QMP on {@code socket}) and returns once QMP is
     * negotiated. {@code name} names the process in messages.
     */
    public static QmpProcess start(String name, List<String> command, Path socket, Path log, Duration timeout)
            throws IOException, TimeoutException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        try {
            QmpClient qmp = awaitQmp(name, p, socket, log, timeout);
            qmp.execute("qmp_capabilities");
            return new QmpProcess(name, p, socket, log, qmp);
        } catch (IOException | TimeoutException | RuntimeException e) {
            p.destroyForcibly();
            try {
                p.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            if (e instanceof IOException && !e.getMessage().contains(" log:\n")) {
                // the process may have exited after accepting the connection (e.g. a failed bind)
                throw new IOException(e.getMessage() + "\n" + name + " log:\n" + read(log), e);
            }
            throw e;
        }
    }

    private static QmpClient awaitQmp(String name, Process p, Path sock, Path log, Duration timeout)
            throws IOException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IOException(name + " exited with status " + p.exitValue() + " before QMP answered\n"
                        + name + " log:\n" + read(log));
            }
            if (Files.exists(sock)) {
                // connect for real, no probe first: QEMU serves one client at a time and can hand a
                // greeting queued for a probe that already left to the next client
                try {
                    return QmpClient.connectUnix(sock, Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
                } catch (java.net.ConnectException e) {
                    // the socket file exists but nobody accepts yet: poll again
                }
            }
            try {
                // a bounded wait that ends at once if the process dies
                p.onExit().get(POLL_MILLIS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                // still running: poll again
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            } catch (ExecutionException e) {
                throw new IOException(e);
            }
        }
        throw new TimeoutException(name + " did not answer on " + sock + " within " + timeout + "\n" + name
                + " log:\n" + read(log));
    }

    /** The negotiated client opened by {@link #start}. */
    public QmpClient qmp() {
        return qmp;
    }

    public Process process() {
        return process;
    }

    public Path socket() {
        return socket;
    }

    public Path log() {
        return log;
    }

    /** Everything the process printed so far. */
    public String output() {
        return read(log);
    }

    /** The last {@code lines} lines of the output. */
    public String outputTail(int lines) {
        List<String> all = output().lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    /** Waits for the process to exit by itself; returns its status. */
    public int awaitExit(Duration timeout) throws TimeoutException, InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new TimeoutException(name + " still running after " + timeout + ":\n" + output());
        }
        return process.exitValue();
    }

    /** Sends {@code quit} if the process is alive, waits for it to exit, kills it otherwise. */
    @Override
    public void close() throws IOException {
        try {
            if (process.isAlive()) {
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
            qmp.close();
        }
    }

    /** A log file's text, or a note why it cannot be read. */
    public static String read(Path log) {
        try {
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }
}
