package io.livemig.vm;

import io.livemig.guest.RunState;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.livemig.vm.InProcessMigrationTest.assertSameRam;
import static io.livemig.vm.InProcessMigrationTest.await;
import static io.livemig.vm.InProcessMigrationTest.config;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole engine with the {@code xbzrle} capability, two guests in one JVM over TCP, against a
 * workload that rewrites 64 bytes per dirtied page: the target is that the resent pages
 * cost at most a quarter of what plain pages would.
 */
class XbzrleMigrationTest {

    private static final long SEED = 0x64b17e5L;

    @SuppressWarnings("unchecked")
    private static Map<String, Object> xbzrle(VirtualMachine vm) {
        return (Map<String, Object>) vm.queryMigrate().getOrDefault("xbzrle-cache", Map.of());
    }

    @Test
    @Timeout(120)
    void resentPagesCostAtMostAQuarterOfPlainPagesAndRamEndsEqual() throws Exception {
        long size = 32L << 20;
        // 2048 hot pages, ~32768 rewrites per second of 64 bytes each
        WorkloadSpec w = new WorkloadSpec("mem0", 128L << 20, WorkloadSpec.Pattern.HOTSET, 8L << 20, 1, SEED, 64);
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            src.setMigrateCapabilities(List.of(Map.of("capability", "xbzrle", "state", true)));
            // 1 ms of downtime holds a page or two: pre-copy resends the hot set until a pass is tiny.
            // Pass 1 sends the hot set whole, pass 2 too (cache misses: pass 1 caches nothing), then
            // XBZRLE passes shrink geometrically (a 64-byte record is sent far faster than it is dirtied)
            src.setMigrateParameters(Map.of("max-bandwidth", 32L << 20, "downtime-limit", 1L));
            assertThat(src.queryMigrateParameters()).containsEntry("xbzrle-cache-size", 64L << 20);
            src.migrate(dst.incomingAddress().orElseThrow().toString());
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(90), "source to finish");
            assertThat(src.queryMigrate()).containsEntry("status", "completed");
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(10), "destination to finish");
            assertThat(dst.incomingStatus()).isEqualTo(MigrationStatus.COMPLETED);
            assertThat(src.runState()).isEqualTo(RunState.POSTMIGRATE);
            assertSameRam(src, dst);

            Map<String, Object> x = xbzrle(src);
            long pages = (Long) x.get("pages");
            long bytes = (Long) x.get("bytes");
            long plain = pages * 4096;
            double ratio = (double) bytes / plain;
            System.out.printf("xbzrle seed %d: %s; %d encoded bytes for %d pages = %.4f of plain pages%n",
                    SEED, x, bytes, pages, ratio);
            assertThat(x).containsEntry("cache-size", 64L << 20).containsKeys("cache-miss", "cache-miss-rate",
                    "encoding-rate", "overflow");
            assertThat((Long) x.get("cache-miss")).as("the second pass misses").isPositive();
            assertThat(pages).as("seed %d: pages resent as XBZRLE: %s", SEED, x).isGreaterThanOrEqualTo(1000);
            assertThat(bytes).as("seed %d: XBZRLE bytes %d vs plain %d (ratio %.4f)", SEED, bytes, plain, ratio)
                    .isLessThanOrEqualTo(plain / 4);
        }
    }

    @Test
    @Timeout(30)
    void xbzrleCacheIsShownOnlyWithTheCapabilityAndTheSizeIsValidatedAsQemuDoes() throws Exception {
        try (VirtualMachine vm = VirtualMachine.start(config(4L << 20, List.of(), Optional.empty(), false))) {
            assertThat(vm.queryMigrateCapabilities()).contains(Map.of("capability", "xbzrle", "state", false));
            for (long bad : new long[] {0, 2048, 3 * 4096, (64L << 20) + 4096}) {
                org.assertj.core.api.Assertions.assertThatThrownBy(
                                () -> vm.setMigrateParameters(Map.of("xbzrle-cache-size", bad)))
                        .as("size %d", bad)
                        .hasMessage("Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size");
            }
            vm.setMigrateParameters(Map.of("xbzrle-cache-size", 4096L));
            assertThat(vm.queryMigrateParameters()).containsEntry("xbzrle-cache-size", 4096L);
            vm.setMigrateParameters(Map.of("xbzrle-cache-size", 1L << 20));
            vm.migrate("file:/dev/null");
            await(() -> vm.outgoingStatus().isFinished(), Duration.ofSeconds(20), "save to /dev/null");
            assertThat(vm.queryMigrate()).containsEntry("status", "completed").doesNotContainKey("xbzrle-cache");
            vm.setMigrateCapabilities(List.of(Map.of("capability", "xbzrle", "state", true)));
            vm.migrate("file:/dev/null");
            await(() -> vm.outgoingStatus().isFinished(), Duration.ofSeconds(20), "save to /dev/null with xbzrle");
            assertThat(vm.queryMigrate()).containsEntry("status", "completed");
            assertThat(xbzrle(vm)).containsEntry("cache-size", 1L << 20).containsEntry("pages", 0L)
                    .containsEntry("bytes", 0L);
        }
    }
}
