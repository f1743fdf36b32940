package io.livemig.cli.demo;

import io.livemig.cli.qmpclient.QmpProcess;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;

/** Starts the demo's {@code livemig vm} children on this process's JDK and class path. */
final class GuestProcess {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private GuestProcess() {
    }

    static QmpProcess start(String name, Path dir, List<String> vmArgs) throws IOException, DemoException {
        Path sock = dir.resolve(name + ".qmp");
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Xmx256m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("io.livemig.cli.Main");
        cmd.add("vm");
        cmd.addAll(vmArgs);
        cmd.addAll(List.of("-name", "demo-" + name, "-qmp", "unix:" + sock + ",server=on,wait=off"));
        try {
            return QmpProcess.start("the " + name + " guest", cmd, sock, dir.resolve(name + ".log"), START_TIMEOUT);
        } catch (TimeoutException e) {
            throw new DemoException(e.getMessage());
        }
    }
}
