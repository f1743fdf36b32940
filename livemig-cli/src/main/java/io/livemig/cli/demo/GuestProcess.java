package io.livemig.cli.demo;

import io.livemig.cli.qmpclient.QmpClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * One {@code livemig vm} child process started by the demo, with its QMP connection. The child
 * runs on the same JDK and class path as this process; its output goes to a log file that the
 * demo shows when something fails.
 */
final class GuestProcess implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private final String name;
    private final Process process;
    private final Path log;
    private final QmpClient qmp;

    private GuestProcess(String name, Process process, Path log, QmpClient qmp) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.qmp = qmp;
    }

    static GuestProcess start(String name, Path dir, List<String> vmArgs) throws IOException, DemoException {
        Path sock = dir.resolve(name + ".qmp");
        Path log = dir.resolve(name + ".log");
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Xmx256m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("io.livemig.cli.Main");
        cmd.add("vm");
        cmd.addAll(vmArgs);
        cmd.add("-name");
        cmd.add("demo-" + name);
        cmd.add("-qmp");
        cmd.add("unix:" + sock + ",server=on,wait=off");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            if (!p.isAlive()) {
                throw new DemoException("the " + name + " guest exited with status " + p.exitValue() + ":\n" + tail(log));
            }
            if (Files.exists(sock)) {
                try {
                    QmpClient c = QmpClient.connectAndNegotiate(sock, Duration.ofSeconds(5));
                    return new GuestProcess(name, p, log, c);
                } catch (IOException | TimeoutException | IllegalStateException e) {
                    // the socket is there but not yet accepting: try again until the deadline
                }
            }
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new DemoException("the " + name + " guest did not answer on QMP within " + START_TIMEOUT.toSeconds() + " s:\n" + tail(log));
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    QmpClient qmp() {
        return qmp;
    }

    String name() {
        return name;
    }

    String logTail() {
        return tail(log);
    }

    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        try {
            if (qmp.isOpen()) {
                qmp.execute("quit");
            }
        } catch (RuntimeException e) {
            // already gone; destroyed below if still alive
        }
        try {
            qmp.close();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (IOException e) {
            process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
