package io.livemig.cli.scenario;

import io.livemig.cli.qmpclient.QmpClient;
import io.livemig.cli.testing.Await;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * System test: QEMU 7.2-style block migration between two real {@code livemig vm} processes.
 * Both have {@code -drive file=…,format=raw,if=none,id=disk0} (the destination's a fresh file of
 * the same size); a workload writes the source's drive at 8 MiB/s; the {@code block}
 * capability is set on the source only, as QEMU 7.2 requires. After {@code completed} the
 * image files are byte-equal and {@code x-devices} shows the {@code block} section carried at
 * least the whole image.
 */
@Timeout(180)
class BlockMigrationIT {

    private static final long MiB = 1L << 20;
    private static final long DISK = 64 * MiB;
    private static final Duration T = Duration.ofSeconds(90);

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @TempDir
    Path dir;

    @Test
    void driveWrittenDuringPrecopyArrivesWholeOverTcp() throws Exception {
        Path srcImage = dir.resolve("src.img");
        Path dstImage = dir.resolve("dst.img");
        writeRandom(srcImage, DISK, seed.seed());
        try (RandomAccessFile f = new RandomAccessFile(dstImage.toFile(), "rw")) {
            f.setLength(DISK);
        }
        try (VmProcess dst = VmProcess.start(dir, guest(dstImage, "-incoming", "tcp:127.0.0.1:0"));
             VmProcess src = VmProcess.start(dir, guest(srcImage,
                     "-workload", "target=disk0,dirty-rate=8M,seed=" + seed.seed()))) {
            QmpClient s = src.qmp();
            s.execute("migrate-set-capabilities", Map.of("capabilities",
                    List.of(Map.of("capability", "block", "state", true))));
            s.execute("migrate-set-parameters", Map.of("max-bandwidth", 512 * MiB));
            Map<String, Object> dstInfo = dst.qmp().executeForMap("query-migrate", Map.of());
            Object port = ((Map<?, ?>) ((List<?>) dstInfo.get("socket-address")).getFirst()).get("port");
            s.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port));

            Map<String, Object> done = awaitCompleted(s, () -> logs(src, dst));
            Await.until(T, () -> "postmigrate".equals(runState(s)), "source postmigrate");
            Await.until(T, () -> "running".equals(runState(dst.qmp())), "destination running");

            assertThat(Files.size(dstImage)).isEqualTo(DISK);
            assertThat(Files.mismatch(srcImage, dstImage)).as("first differing byte of the images").isEqualTo(-1L);
            Map<?, ?> block = ((List<?>) done.get("x-devices")).stream().map(d -> (Map<?, ?>) d)
                    .filter(d -> "block".equals(d.get("idstr"))).findFirst()
                    .orElseThrow(() -> new AssertionError("no block section in x-devices: " + done));
            assertThat(((Number) block.get("transferred")).longValue()).as("block bytes on the wire: " + block)
                    .isGreaterThanOrEqualTo(DISK);
            assertThat(((Number) block.get("instance-id")).longValue()).isZero();
        }
    }

    @Test
    void missingDriveImageStopsTheGuestWithItsName() throws Exception {
        Path missing = dir.resolve("missing.img");
        List<String> args = new java.util.ArrayList<>(List.of("vm"));
        args.addAll(List.of(guest(missing)));
        VmProcess.Exit exit = VmProcess.run(dir, Duration.ofSeconds(30), args.toArray(String[]::new));
        assertThat(exit.status()).as(exit.output()).isEqualTo(1);
        assertThat(exit.output()).contains("livemig vm: -drive id=disk0: Could not open '" + missing
                + "': No such file or directory");
        assertThat(missing).doesNotExist();
    }

    private static String[] guest(Path image, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of(
                "-machine", "none,memory-backend=mem0", "-m", "64M",
                "-object", "memory-backend-ram,id=mem0,size=64M",
                "-drive", "file=" + image + ",format=raw,if=none,id=disk0"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    private static String runState(QmpClient qmp) {
        return (String) qmp.executeForMap("query-status", Map.of()).get("status");
    }

    private static String logs(VmProcess src, VmProcess dst) {
        return "source log:\n" + src.output() + "\ndestination log:\n" + dst.output();
    }

    /** Polls query-migrate until {@code completed}; {@code failed} or {@code cancelled} fail at once. */
    private static Map<String, Object> awaitCompleted(QmpClient qmp, java.util.function.Supplier<String> logs)
            throws TimeoutException {
        AtomicReference<Map<String, Object>> last = new AtomicReference<>();
        try {
            Await.until(T, () -> {
                Map<String, Object> reply = qmp.executeForMap("query-migrate", Map.of());
                last.set(reply);
                Object status = reply.get("status");
                if ("failed".equals(status) || "cancelled".equals(status)) {
                    throw new AssertionError("migration " + status + ": " + reply + "\n" + logs.get());
                }
                return "completed".equals(status);
            }, "query-migrate status completed");
        } catch (TimeoutException e) {
            throw new TimeoutException(e.getMessage() + "; last reply " + last.get() + "\n" + logs.get());
        }
        return last.get();
    }

    private static void writeRandom(Path file, long size, long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] buf = new byte[(int) MiB];
        try (var out = Files.newOutputStream(file)) {
            for (long n = 0; n < size; n += buf.length) {
                rnd.nextBytes(buf);
                out.write(buf);
            }
        }
    }
}
