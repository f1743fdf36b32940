package io.livemig.cli.testing;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.qmpclient.QmpProcess;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real {@code java -jar livemig.jar vm …} child process for system tests.
 *
 * <p>It runs on the JDK that runs the tests, with {@code --enable-native-access=ALL-UNNAMED}, and
 * gets an extra {@code -qmp unix:<dir>/qmp-N.sock,server=on,wait=off}. {@link #start} returns once
 * QMP answers (polling for the socket file and a successful connect, bounded by a hard timeout;
 * it fails early if the process dies). stdout and stderr go to {@code <dir>/vm-N.log}, whose text is
 * included in failure messages. {@link #close} sends {@code quit}, waits, and destroys the process
 * if it does not exit.
 */
public final class VmProcess implements AutoCloseable {

    public static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration EXIT_TIMEOUT = QmpProcess.EXIT_TIMEOUT;

    private static final AtomicInteger SEQ = new AtomicInteger();

    private final QmpProcess child;

    private VmProcess(QmpProcess child) {
        this.child = child;
    }

    /** The shaded jar, from system property {@code livemig.jar} (set by failsafe). */
    public static Path jar() {
        String jar = System.getProperty("livemig.jar");
        if (jar == null || !Files.isRegularFile(Path.of(jar))) {
            throw new IllegalStateException("system property livemig.jar must name the built livemig.jar, got " + jar
                    + " (run through 'mvn verify', which builds it in package)");
        }
        return Path.of(jar);
    }

    /** The java launcher of the running JVM. */
    public static String javaCommand() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** The command line of {@code livemig <args…>}. */
    public static List<String> command(List<String> livemigArgs) {
        List<String> cmd = new ArrayList<>(List.of(javaCommand(), "--enable-native-access=ALL-UNNAMED",
                "-Xmx512m", "-jar", jar().toString()));
        cmd.addAll(livemigArgs);
        return cmd;
    }

    /**
     * Starts {@code livemig vm vmArgs… -qmp unix:…} in {@code dir} and returns once QMP answers,
     * with {@link #qmp()} connected and negotiated.
     */
    public static VmProcess start(Path dir, String... vmArgs) throws IOException, TimeoutException {
        int n = SEQ.incrementAndGet();
        Path sock = dir.resolve("qmp-" + n + ".sock");
        Path log = dir.resolve("vm-" + n + ".log");
        List<String> args = new ArrayList<>();
        args.add("vm");
        args.addAll(Arrays.asList(vmArgs));
        args.addAll(List.of("-qmp", "unix:" + sock + ",server=on,wait=off"));
        return new VmProcess(QmpProcess.start("livemig vm", command(args), sock, log, START_TIMEOUT));
    }

    /** Result of a {@code livemig} run that is expected to end by itself. */
    public record Exit(int status, String output) {
    }

    /** Runs {@code livemig args…} to completion (hard timeout), capturing stdout and stderr. */
    public static Exit run(Path dir, Duration timeout, String... livemigArgs) throws IOException, TimeoutException {
        Path log = dir.resolve("run-" + SEQ.incrementAndGet() + ".log");
        Process p = new ProcessBuilder(command(List.of(livemigArgs))).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new TimeoutException("livemig " + String.join(" ", livemigArgs) + " still running after "
                        + timeout + ":\n" + QmpProcess.read(log));
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return new Exit(p.exitValue(), QmpProcess.read(log));
    }

    /** The negotiated QMP client opened by {@link #start}. */
    public QmpClient qmp() {
        return child.qmp();
    }

    /** Opens another client (greeting read, not negotiated). */
    public QmpClient connectQmp() throws IOException, TimeoutException {
        return QmpClient.connectUnix(child.socket(), QmpClient.REPLY_TIMEOUT);
    }

    public Path qmpSocket() {
        return child.socket();
    }

    public Process process() {
        return child.process();
    }

    public Path logFile() {
        return child.log();
    }

    /** Everything the process printed so far. */
    public String output() {
        return child.output();
    }

    /** Waits for the process to exit by itself; returns its status. */
    public int awaitExit(Duration timeout) throws TimeoutException, InterruptedException {
        return child.awaitExit(timeout);
    }

    /** Sends {@code quit} if the process is alive, waits for it to exit, destroys it otherwise. */
    @Override
    public void close() throws IOException {
        child.close();
    }
}
