package io.livemig.cli;

import io.livemig.cli.qmp.QmpServer;
import io.livemig.cli.qmp.QmpWarmup;
import io.livemig.vm.PagePathWarmup;
import io.livemig.vm.VirtualMachine;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code livemig <command>}: the entry point of livemig.jar. The top level is picocli; the
 * {@code vm} subcommand takes QEMU-style arguments, which picocli passes through untouched (as
 * positional parameters) to {@link VmCommandLine}. Exit status: 0 on normal end ({@code quit}),
 * 1 on bad input, with a message naming the option on stderr.
 */
@Command(name = "livemig", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Live migration for the JVM, driven like QEMU.",
        subcommands = {Main.Vm.class, io.livemig.cli.demo.DemoCommand.class, Main.VersionCommand.class, AotTrainCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {

    static final int EXIT_OK = 0;
    static final int EXIT_USAGE = 1;

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs {@code livemig args}, returning the exit status (a {@code vm} returns when it quits). */
    static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = commandLine(out, err);
        return cl.execute(args);
    }

    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, c, parseResult) -> {
            if (ex instanceof UsageException u) {
                err.println(u.getMessage());
                return EXIT_USAGE;
            }
            err.println("livemig: " + ex);
            return EXIT_USAGE;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            err.println("livemig: " + ex.getMessage());
            err.println("Try 'livemig help'.");
            return EXIT_USAGE;
        });
        // QEMU options (-m, -S, ...) are not picocli's: keep them verbatim for the vm parser
        cl.getSubcommands().get("vm").setUnmatchedOptionsArePositionalParams(true);
        return cl;
    }

    @Override
    public Integer call() {
        CommandLine.usage(this, System.err);
        return EXIT_USAGE;
    }

    static String version() {
        try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"livemig " + version()};
        }
    }

    @Command(name = "version", description = "Print the livemig version.")
    static final class VersionCommand implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().getOut().println("livemig " + version());
            return EXIT_OK;
        }
    }

    @Command(name = "vm", description = {
            "Run a guest controlled over QMP, with a QEMU-style command line, e.g.",
            "  livemig vm -machine none,memory-backend=mem0 -m 64M \\",
            "    -object memory-backend-ram,id=mem0,size=64M -S \\",
            "    -qmp unix:/tmp/qmp.sock,server=on,wait=off"})
    static final class Vm implements Callable<Integer> {

        @Parameters(arity = "0..*", paramLabel = "QEMU-OPTION", description = "QEMU-style options")
        List<String> args = new ArrayList<>();

        @Override
        public Integer call() throws UsageException, IOException, InterruptedException {
            VmCommandLine.Parsed parsed = VmCommandLine.parse(args);
            return runVm(parsed);
        }
    }

    /** Runs {@link PagePathWarmup}; a failure costs only speed, so it is reported and the vm starts. */
    private static void warmUp() {
        try {
            PagePathWarmup.Result r = PagePathWarmup.run(new QmpWarmup(version()));
            if (Boolean.getBoolean("livemig.warmup.verbose")) {
                System.err.printf("livemig vm: page-path warm-up: %d rounds in %d ms%n", r.rounds(), r.elapsed().toMillis());
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("livemig vm: warning: page-path warm-up failed, migrations start cold: " + e.getMessage());
        }
    }

    /** Builds the guest, serves QMP until {@code quit}, then releases everything. */
    static int runVm(VmCommandLine.Parsed parsed) throws UsageException, IOException, InterruptedException {
        CountDownLatch quit = new CountDownLatch(1);
        // The warm-up runs beside the guest's construction (a preallocated RAM of gigabytes takes
        // a while to touch) and ends before QMP answers: a management tool that waits for QMP, as
        // it must for QEMU, never migrates with a cold page path. See PagePathWarmup.
        Thread warmup = parsed.warmup() ? Thread.ofPlatform().name("warmup").start(Main::warmUp) : null;
        VirtualMachine vm;
        try {
            vm = VirtualMachine.start(parsed.config());
        } catch (IllegalArgumentException e) {
            // a device's own properties, a workload the guest cannot run, a file that cannot be mapped
            throw new UsageException("livemig vm: " + e.getMessage());
        } finally {
            if (warmup != null) {
                warmup.join();
            }
        }
        try {
            for (Map<String, Object> object : parsed.objects()) {
                vm.objectAdd(object); // -object authz-simple: checked by the parser already
            }
        } catch (io.livemig.vm.VmCommandException e) {
            vm.close();
            throw new UsageException("livemig vm: -object: " + e.desc());
        }
        QmpServer server;
        try {
            server = QmpServer.start(vm, parsed.qmp(), version(), quit::countDown);
        } catch (IOException e) {
            vm.close();
            throw new UsageException("livemig vm: -qmp: " + e.getMessage());
        }
        // SIGTERM/SIGINT: like QEMU, announce SHUTDOWN (host-signal), release the guest and exit 0
        Thread hook = new Thread(() -> {
            server.signalShutdown();
            server.close(1000);
            vm.close();
            Runtime.getRuntime().halt(EXIT_OK);
        }, "livemig-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        quit.await();
        server.close(2000);
        vm.close();
        Runtime.getRuntime().removeShutdownHook(hook);
        return EXIT_OK;
    }
}
