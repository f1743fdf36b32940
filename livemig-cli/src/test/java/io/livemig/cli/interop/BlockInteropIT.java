package io.livemig.cli.interop;

import io.livemig.cli.testing.GuestRamFile;
import io.livemig.cli.testing.ImageDiff;
import io.livemig.cli.testing.QemuProcess;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.livemig.cli.interop.Migrations.awaitCompleted;
import static io.livemig.cli.interop.Migrations.setCapability;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Block migration from a real QEMU 7.2 into livemig: the guests of {@link QemuLiveInteropIT}
 * plus {@code -drive file=…,format=raw,if=none,id=disk0}, the {@code block} capability on the
 * source only. The source image is seeded; the destination's starts as garbage and must equal
 * the source's byte for byte afterwards, as must RAM.
 *
 * <p>The other direction cannot be tested against QEMU 7.2 with {@code -machine none}: a QEMU
 * destination whose {@code if=none} drive has no device attached (machine none has no bus to
 * attach one to) aborts on its first block write with
 * {@code bdrv_co_write_req_prepare: Assertion `child->perm & BLK_PERM_WRITE' failed}, the
 * same for a QEMU 7.2 source as for livemig (checked by hand: it parses the records and prints
 * the PROGRESS percentages first).
 */
@Timeout(120)
class BlockInteropIT {

    private static final String SIZE = "64M";
    private static final long RAM = 64L << 20;
    private static final long DISK = 32L << 20;
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @Test
    void qemuToLivemig() throws Exception {
        Path srcRam = dir.resolve("qemu.ram");
        Path dstRam = dir.resolve("livemig.ram");
        Path srcDisk = dir.resolve("qemu.img");
        Path dstDisk = dir.resolve("livemig.img");
        GuestRamFile.fill(srcRam, RAM, seed.seed());
        GuestRamFile.garbage(dstRam, RAM, ~seed.seed());
        GuestRamFile.fill(srcDisk, DISK, seed.seed() + 1);
        GuestRamFile.garbage(dstDisk, DISK, ~seed.seed() - 1);
        Path dstDiskBefore = dir.resolve("livemig.img.before");
        Files.copy(dstDisk, dstDiskBefore);

        try (VmProcess dst = VmProcess.start(dir, livemigGuest(dstRam, dstDisk, "-incoming", "tcp:127.0.0.1:0"));
             QemuProcess src = QemuProcess.start(dir, SIZE, srcRam, drive(srcDisk))) {
            Map<String, Object> info = dst.qmp().executeForMap("query-migrate", Map.of());
            Object port = ((Map<?, ?>) ((List<?>) info.get("socket-address")).getFirst()).get("port");
            // downtime-limit 0: QEMU 7.2 completes only once nothing is pending. With the default
            // limit it may switch over while block migration's bulk phase is still running (its
            // pending() reports a single 1 MiB block then, under a threshold that grows with the
            // measured bandwidth), and block_save_complete() sends only dirty blocks, so the
            // image's tail never leaves the source. Seen here under load: 3 of 40 runs ended
            // "completed" with the last 2-8 MiB of the destination image never written. Upstream
            // QEMU fixed this once in block_save_pending (commit 04636dc410b1, "migration/block:
            // fix pending() return value"); a later change there brought it back.
            src.qmp().execute("migrate-set-parameters", Map.of("max-bandwidth", 1L << 30, "downtime-limit", 0));
            setCapability(src.qmp(), "block", true);
            src.qmp().execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port));
            Map<String, Object> srcEnd = awaitCompleted(src.qmp(), "QEMU source", T, () -> logs(dst.output(), src.output()));
            Map<String, Object> dstEnd = awaitCompleted(dst.qmp(), "livemig destination", T, () -> logs(dst.output(), src.output()));
            String diff = ImageDiff.explain(srcDisk, dstDisk, dstDiskBefore, 1 << 20);
            if (diff != null) {
                Path kept = ImageDiff.keep("BlockInteropIT-" + Long.toUnsignedString(seed.seed()), srcDisk, dstDisk, dstDiskBefore);
                Files.writeString(kept.resolve("logs.txt"), logs(dst.output(), src.output()));
                diff += "\nQEMU source query-migrate " + srcEnd + "\nlivemig destination query-migrate " + dstEnd
                        + "\n(images and logs kept in " + kept + ")";
            }
            assertThat(diff).as("how the destination image differs from the source's").isNull();
            assertThat(Files.mismatch(srcRam, dstRam)).as("first differing byte of the RAM files").isEqualTo(-1);
        }
    }

    private static String[] drive(Path image) {
        return new String[] {"-drive", "file=" + image + ",format=raw,if=none,id=disk0"};
    }

    private static String[] livemigGuest(Path ram, Path image, String... extra) {
        List<String> args = new ArrayList<>(QemuProcess.guestArgs(SIZE, ram));
        args.addAll(List.of(drive(image)));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    private static String logs(String livemig, String qemu) {
        return "--- livemig:\n" + livemig + "\n--- QEMU:\n" + qemu;
    }
}
