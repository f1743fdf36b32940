package io.livemig.cli.interop;

import io.livemig.cli.testing.Await;
import io.livemig.cli.testing.GuestRamFile;
import io.livemig.cli.testing.QemuProcess;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.livemig.cli.interop.Migrations.awaitCompleted;
import static io.livemig.cli.interop.Migrations.runState;
import static io.livemig.cli.interop.Migrations.setCapability;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code validate-uuid} against a real QEMU 7.2, both ways, through saved streams: the
 * configuration's uuid subsection livemig writes is the one QEMU reads (a matching UUID loads), and
 * a mismatch fails on either destination with QEMU's message
 * {@code UUID received is SRC and local is DST}. QEMU 7.2 exits after a failed incoming load, so
 * its side is read from its log and exit status; livemig's from {@code query-migrate}.
 */
@Timeout(120)
class UuidInteropIT {

    private static final String SIZE = "8M";
    private static final long BYTES = 8L << 20;
    private static final Duration T = Duration.ofSeconds(30);
    private static final String A = "6b9f2c3e-0d51-4f4a-9c1e-2a7d3b8e5f10";
    private static final String B = "0f7e6d5c-4b3a-4291-8807-aabbccddeeff";

    @TempDir
    Path dir;

    @Test
    void qemuSourceWithAnotherUuidFailsOnLivemigAndTheSameUuidLoads() throws Exception {
        Path ram = dir.resolve("qemu.ram");
        GuestRamFile.fill(ram, BYTES, 42);
        Path stream = dir.resolve("qemu.stream");
        Path part = dir.resolve("qemu.stream.part");
        try (QemuProcess src = QemuProcess.start(dir, SIZE, ram, "-S", "-uuid", A)) {
            setCapability(src.qmp(), "validate-uuid", true);
            src.qmp().execute("migrate", Map.of("uri", "exec:cat > " + part + " && mv " + part + " " + stream));
            awaitCompleted(src.qmp(), "QEMU source", T, src::output);
            Await.until(T, () -> Files.exists(stream), "cat wrote " + stream);
        }
        try (VmProcess dst = VmProcess.start(dir, livemig(dir.resolve("l1.ram"), "-uuid", B, "-incoming", "file:" + stream))) {
            Map<String, Object> q = awaitFailed(dst);
            assertThat((String) q.get("error-desc")).as(dst.output()).contains("UUID received is " + A + " and local is " + B);
            assertThat(runState(dst.qmp())).isEqualTo("inmigrate");
        }
        try (VmProcess dst = VmProcess.start(dir, livemig(dir.resolve("l2.ram"), "-uuid", A, "-incoming", "file:" + stream))) {
            awaitCompleted(dst.qmp(), "livemig destination", T, dst::output);
        }
    }

    @Test
    void livemigSourceWithAnotherUuidFailsOnQemuAndTheSameUuidLoads() throws Exception {
        Path ram = dir.resolve("livemig.ram");
        GuestRamFile.fill(ram, BYTES, 43);
        Path stream = dir.resolve("livemig.stream");
        try (VmProcess src = VmProcess.start(dir, livemig(ram, "-S", "-uuid", A))) {
            setCapability(src.qmp(), "validate-uuid", true);
            src.qmp().execute("migrate", Map.of("uri", "file:" + stream));
            awaitCompleted(src.qmp(), "livemig source", T, src::output);
        }
        try (QemuProcess dst = QemuProcess.start(dir, SIZE, dir.resolve("q1.ram"), "-uuid", B, "-incoming", "defer")) {
            dst.qmp().execute("migrate-incoming", Map.of("uri", "exec:cat " + stream));
            // QEMU 7.2 exits with status 1 after "load of migration failed"
            assertThat(dst.process().waitFor(30, TimeUnit.SECONDS)).as(dst.output()).isTrue();
            assertThat(dst.process().exitValue()).as(dst.output()).isNotZero();
            assertThat(dst.output()).contains("UUID received is " + A + " and local is " + B);
        }
        Path qram = dir.resolve("q2.ram");
        try (QemuProcess dst = QemuProcess.start(dir, SIZE, qram, "-uuid", A, "-incoming", "defer")) {
            dst.qmp().execute("migrate-incoming", Map.of("uri", "exec:cat " + stream));
            awaitCompleted(dst.qmp(), "QEMU destination", T, dst::output);
            assertThat(Files.mismatch(ram, qram)).as("first differing byte of the RAM files").isEqualTo(-1);
        }
    }

    private static Map<String, Object> awaitFailed(VmProcess vm) throws Exception {
        Await.until(T, () -> "failed".equals(vm.qmp().executeForMap("query-migrate", Map.of()).get("status")),
                "livemig destination query-migrate status failed");
        return vm.qmp().executeForMap("query-migrate", Map.of());
    }

    private static String[] livemig(Path ram, String... extra) throws Exception {
        if (!Files.exists(ram)) {
            GuestRamFile.garbage(ram, BYTES, 7);
        }
        List<String> args = new ArrayList<>(QemuProcess.guestArgs(SIZE, ram));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }
}
