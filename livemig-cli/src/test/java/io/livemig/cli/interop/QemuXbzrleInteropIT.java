package io.livemig.cli.interop;

import io.livemig.cli.testing.GuestRamFile;
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
import static io.livemig.cli.interop.Migrations.awaitRunState;
import static io.livemig.cli.interop.Migrations.runState;
import static io.livemig.cli.interop.Migrations.setCapability;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * livemig's XBZRLE records decoded by a real QEMU 7.2: a livemig source with the {@code xbzrle}
 * capability and a workload that rewrites 64 bytes per dirtied page migrates over TCP to a QEMU
 * destination; QEMU must complete and hold the source's RAM byte for byte. Only this direction
 * can be tested: a QEMU {@code -machine none} source has no vCPUs, never resends a page, and so
 * never sends XBZRLE. The QEMU destination gets no capability: its {@code ram_load} decodes XBZRLE
 * records whatever its own capabilities say, and this test shows it.
 */
@Timeout(180)
class QemuXbzrleInteropIT {

    private static final String SIZE = "128M";
    private static final long BYTES = 128L << 20;
    private static final Duration T = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @Test
    void livemigXbzrleStreamLoadsIntoQemu() throws Exception {
        Path srcRam = dir.resolve("livemig.ram");
        Path dstRam = dir.resolve("qemu.ram");
        GuestRamFile.fill(srcRam, BYTES, seed.seed());
        GuestRamFile.garbage(dstRam, BYTES, ~seed.seed());

        List<String> args = new ArrayList<>(QemuProcess.guestArgs(SIZE, srcRam));
        // 2048 hot pages, ~32768 rewrites of 64 bytes per second
        args.addAll(List.of("-workload", "target=" + QemuProcess.RAM_ID
                + ",dirty-rate=128M,pattern=hotset,hotset-size=8M,write-bytes=64,seed=" + seed.seed()));
        try (QemuProcess dst = QemuProcess.startIncomingTcp(dir, SIZE, dstRam);
             VmProcess src = VmProcess.start(dir, args.toArray(String[]::new))) {
            assertThat(runState(src.qmp())).isEqualTo("running");
            setCapability(src.qmp(), "xbzrle", true);
            // a 1 ms downtime limit keeps pre-copy resending the hot set: pass 1 and 2 send it whole
            // (pass 2 fills the cache), later passes as XBZRLE until a pass is tiny
            src.qmp().execute("migrate-set-parameters",
                    Map.of("max-bandwidth", 64L << 20, "downtime-limit", 1, "xbzrle-cache-size", 16L << 20));

            src.qmp().execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + dst.incomingPort()));
            Map<String, Object> srcInfo = awaitCompleted(src.qmp(), "livemig source", T,
                    () -> logs(src.output(), dst.output()));
            awaitCompleted(dst.qmp(), "QEMU destination", T, () -> logs(src.output(), dst.output()));
            assertThat(runState(dst.qmp())).isEqualTo("running");
            awaitRunState(src.qmp(), "source", "postmigrate", T);

            Map<?, ?> x = (Map<?, ?>) srcInfo.get("xbzrle-cache");
            System.out.printf("livemig -> QEMU with xbzrle: total-time %s ms, downtime %s ms, ram %s, xbzrle-cache %s%n",
                    srcInfo.get("total-time"), srcInfo.get("downtime"), srcInfo.get("ram"), x);
            assertThat(x).as("xbzrle-cache in %s", srcInfo).isNotNull();
            assertThat(((Number) x.get("cache-size")).longValue()).isEqualTo(16L << 20);
            long pages = ((Number) x.get("pages")).longValue();
            long bytes = ((Number) x.get("bytes")).longValue();
            assertThat(pages).as("XBZRLE pages sent: %s", x).isGreaterThan(0);
            assertThat(bytes).as("XBZRLE bytes: %s", x).isPositive().isLessThan(pages * 4096 / 4);
            assertThat(Files.mismatch(srcRam, dstRam)).as("first differing byte of the RAM files").isEqualTo(-1);
        }
    }

    private static String logs(String livemig, String qemu) {
        return "--- livemig:\n" + livemig + "\n--- QEMU:\n" + qemu;
    }
}
