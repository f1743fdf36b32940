package io.livemig.vm;

import io.livemig.guest.RamBlock;
import io.livemig.guest.RunState;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

import static io.livemig.vm.InProcessMigrationTest.assertSameRam;
import static io.livemig.vm.InProcessMigrationTest.await;
import static io.livemig.vm.InProcessMigrationTest.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The whole engine with capability {@code multifd}: two guests in one JVM over TCP, the RAM pages
 * on 2 or 4 extra connections.
 */
class MultifdMigrationTest {

    private static void enableMultifd(VirtualMachine vm, int channels, String compression) throws VmCommandException {
        vm.setMigrateCapabilities(List.of(Map.of("capability", "multifd", "state", true)));
        vm.setMigrateParameters(Map.of("multifd-channels", (long) channels, "multifd-compression", compression));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> ram(VirtualMachine vm) {
        return (Map<String, Object>) vm.queryMigrate().getOrDefault("ram", Map.of());
    }

    private static void migrateAndCheck(VirtualMachine src, VirtualMachine dst, String what) throws VmCommandException {
        src.migrate(dst.incomingAddress().orElseThrow().toString());
        await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(90), () -> what + ": source to finish " + src.queryMigrate());
        assertThat(src.queryMigrate()).as(what).containsEntry("status", "completed");
        await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(20), what + ": destination to finish");
        assertThat(dst.incomingStatus()).as(what).isEqualTo(MigrationStatus.COMPLETED);
        assertThat(src.runState()).isEqualTo(RunState.POSTMIGRATE);
        assertThat(dst.runState()).isEqualTo(RunState.RUNNING);
        assertSameRam(src, dst);
    }

    @ParameterizedTest(name = "{0} channels")
    @ValueSource(ints = {2, 4})
    @Timeout(120)
    void liveGuestCompletesOverMultifdWithEqualRam(int channels) throws Exception {
        long size = 64L << 20;
        long seed = new SplittableRandom().nextLong();
        System.out.printf("multifd %d channels: workload seed %d%n", channels, seed);
        WorkloadSpec w = new WorkloadSpec("mem0", 8L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, seed);
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            fillRandom(src.memory().find("mem0"), seed);
            enableMultifd(src, channels, "none");
            enableMultifd(dst, channels, "none");
            src.setMigrateParameters(Map.of("max-bandwidth", 0L));
            migrateAndCheck(src, dst, "seed " + seed);
            Map<String, Object> ram = ram(src);
            long multifdBytes = (Long) ram.get("multifd-bytes");
            long transferred = (Long) ram.get("transferred");
            System.out.printf("multifd %d channels: %s%n", channels, ram);
            assertThat(multifdBytes).as("seed %d: pages went on the multifd channels: %s", seed, ram)
                    .isGreaterThan(16L << 20).isLessThanOrEqualTo(transferred);
            assertThat((Long) ram.get("duplicate")).as("zero pages detected by the channels").isPositive();
        }
    }

    /**
     * The warm-up's short packets ({@code PagePathWarmup.MULTIFD_PACKET_PAGES}): the same pages in
     * packets of at most 4, so one header per 4 pages on the wire, and the destination's RAM equal.
     */
    @Test
    @Timeout(60)
    void packetsOfFourPagesCarryEveryPageWithAHeaderPerFour() throws Exception {
        long size = 16L << 20;
        long seed = new SplittableRandom().nextLong();
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(), Optional.empty(), false));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            fillRandom(src.memory().find("mem0"), seed);
            enableMultifd(src, 2, "none");
            enableMultifd(dst, 2, "none");
            src.setMigrateParameters(Map.of("max-bandwidth", 0L));
            src.migrationParameters().multifdPacketPages(PagePathWarmup.MULTIFD_PACKET_PAGES);
            migrateAndCheck(src, dst, "seed " + seed);
            Map<String, Object> ram = ram(src);
            long normal = (Long) ram.get("normal");
            long minPackets = (normal + PagePathWarmup.MULTIFD_PACKET_PAGES - 1) / PagePathWarmup.MULTIFD_PACKET_PAGES;
            assertThat((Long) ram.get("multifd-bytes")).as("seed %d: %s", seed, ram)
                    .isGreaterThanOrEqualTo(normal * 4096 + minPackets * io.livemig.multifd.MultifdPacketDescriptor.HEADER_LENGTH);
        }
        assertThatThrownBy(() -> new io.livemig.savevm.MigrationParameters().multifdPacketPages(129))
                .hasMessage("multifd packet pages must be 1..128, got 129");
        assertThatThrownBy(() -> new io.livemig.savevm.MigrationParameters().multifdPacketPages(0))
                .hasMessage("multifd packet pages must be 1..128, got 0");
    }

    /**
     * The reordering hazard (reference §10 item 16): a small hot set is rewritten on every pass,
     * so each of its pages travels many times, on whichever channel its packet lands. Without the
     * SYNC/MULTIFD_FLUSH barrier at each wrap, an older copy of a page still queued on a busy
     * channel can land after the newer copy on an idle one, and the destination ends with stale
     * bytes. Many seeded runs, each compared byte for byte with the stopped source.
     */
    @Test
    @Timeout(300)
    void pagesRewrittenAcrossPassesEndWithTheirNewestContent() throws Exception {
        long size = 16L << 20;
        long base = new SplittableRandom().nextLong();
        for (int run = 0; run < 12; run++) {
            long seed = base + run;
            // an 8 MiB hot set, rewritten as fast as 2 threads go: every pass resends all of it
            WorkloadSpec w = new WorkloadSpec("mem0", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.HOTSET, 8L << 20,
                    2, seed, 512);
            try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false));
                 VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
                fillRandom(src.memory().find("mem0"), seed);
                enableMultifd(src, 4, "none");
                enableMultifd(dst, 4, "none");
                // 30 ms at 64 MiB/s (a 2 MB threshold, more with the channels' lag) cannot hold the 8 MiB hot set: pre-copy
                // syncs and resends it on every pass until the limit is raised; then the last pass
                // goes unthrottled, on all four channels
                src.setMigrateParameters(Map.of("max-bandwidth", 64L << 20, "downtime-limit", 30L));
                src.migrate(dst.incomingAddress().orElseThrow().toString());
                long s = seed;
                await(() -> ram(src).get("dirty-sync-count") instanceof Long c && c >= 6
                        || src.outgoingStatus().isFinished(), Duration.ofSeconds(60), () -> "seed " + s + ": 8 passes");
                src.setMigrateParameters(Map.of("max-bandwidth", 0L, "downtime-limit", 2000L));
                await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(60), () -> "seed " + s + ": completion");
                assertThat(src.queryMigrate()).as("seed %d", seed).containsEntry("status", "completed");
                await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(20), "destination");
                assertThat(dst.incomingStatus()).as("seed %d", seed).isEqualTo(MigrationStatus.COMPLETED);
                assertThat(src.runState()).isEqualTo(RunState.POSTMIGRATE);
                RamBlock a = src.memory().find("mem0");
                RamBlock b = dst.memory().find("mem0");
                long at = java.lang.foreign.MemorySegment.mismatch(a.segment(), 0, a.size(), b.segment(), 0, b.size());
                assertThat(at).as("seed %d: first byte where the destination holds a stale page", seed).isEqualTo(-1L);
                // on a busy machine the writers may be starved and the set converge sooner; at least
                // one resend round is what the hazard needs
                assertThat((Long) ram(src).get("dirty-sync-count")).as("seed %d: passes %s", seed, src.queryMigrate())
                        .isGreaterThanOrEqualTo(2L);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"zstd", "zlib"})
    @Timeout(120)
    void compressionMovesCompressibleRamInFewerBytesWithEqualRam(String method) throws Exception {
        long size = 64L << 20;
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(), Optional.empty(), false));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            fillCompressible(src.memory().find("mem0"), 0x5eedL);
            enableMultifd(src, 2, method);
            enableMultifd(dst, 2, method);
            // zlib at a level other than the default: the level must reach the deflater
            src.setMigrateParameters(Map.of("max-bandwidth", 0L, "multifd-zlib-level", 6L));
            migrateAndCheck(src, dst, method);
            Map<String, Object> ram = ram(src);
            System.out.printf("multifd %s: %s%n", method, ram);
            assertThat((Long) ram.get("multifd-bytes")).as("%s bytes for 64 MiB of text-like pages: %s", method, ram)
                    .isLessThan(size / 4);
        }
    }

    @Test
    @Timeout(120)
    void zlibWithALiveGuestAndResentPagesKeepsEveryPageCurrent() throws Exception {
        long size = 32L << 20;
        WorkloadSpec w = new WorkloadSpec("mem0", 8L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, 11);
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            fillCompressible(src.memory().find("mem0"), 11);
            enableMultifd(src, 2, "zlib");
            enableMultifd(dst, 2, "zlib");
            // rounds of resent pages over the same per-channel zlib streams, then a paused finish
            src.setMigrateParameters(Map.of("max-bandwidth", 32L << 20, "downtime-limit", 1L));
            src.migrate(dst.incomingAddress().orElseThrow().toString());
            await(() -> ram(src).get("dirty-sync-count") instanceof Long c && c >= 3 || src.outgoingStatus().isFinished(),
                    Duration.ofSeconds(60), () -> "3 passes: " + src.queryMigrate());
            src.setMigrateParameters(Map.of("max-bandwidth", 0L, "downtime-limit", 2000L));
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(60), () -> "completion: " + src.queryMigrate());
            assertThat(src.queryMigrate()).containsEntry("status", "completed");
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(20), "destination");
            assertThat(dst.incomingStatus()).isEqualTo(MigrationStatus.COMPLETED);
            assertSameRam(src, dst);
        }
    }

    @Test
    @Timeout(60)
    void aMultifdChannelFromAGuestWithAnotherUuidIsRefusedAsQemuRefusesIt() throws Exception {
        // more than the loopback socket buffers of the channels hold: without a return path the
        // source learns of the refusal only from a write that fails (8 MiB fit in the buffers, and
        // the source then completed, as QEMU's would)
        long size = 64L << 20;
        java.util.UUID a = java.util.UUID.fromString("11111111-2222-3333-4444-555555555555");
        java.util.UUID b = java.util.UUID.fromString("66666666-7777-8888-9999-000000000000");
        VmConfig srcConfig = new VmConfig(Optional.of("t"), Optional.of(a), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", size, Optional.empty(), false, false)), List.of(), false,
                Optional.empty());
        VmConfig dstConfig = new VmConfig(Optional.of("t"), Optional.of(b), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", size, Optional.empty(), false, false)), List.of(), false,
                Optional.of("tcp:127.0.0.1:0"));
        try (VirtualMachine src = VirtualMachine.start(srcConfig); VirtualMachine dst = VirtualMachine.start(dstConfig)) {
            fillRandom(src.memory().find("mem0"), 5);
            enableMultifd(src, 2, "none");
            enableMultifd(dst, 2, "none");
            src.migrate(dst.incomingAddress().orElseThrow().toString());
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(20), "destination to refuse");
            assertThat(dst.incomingStatus()).isEqualTo(MigrationStatus.FAILED);
            assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
            assertThat(String.valueOf(dst.queryMigrate().get("error-desc")))
                    .contains("multifd: received uuid '" + a + "' and expected uuid '" + b + "' for channel");
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(20), "source to fail");
            assertThat(src.outgoingStatus()).isEqualTo(MigrationStatus.FAILED);
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
        }
    }

    @Test
    @Timeout(60)
    void cancelDuringMultifdLeavesTheSourceRunning() throws Exception {
        long size = 64L << 20;
        WorkloadSpec w = new WorkloadSpec("mem0", 16L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, 7);
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            fillRandom(src.memory().find("mem0"), 7);
            enableMultifd(src, 2, "none");
            enableMultifd(dst, 2, "none");
            src.setMigrateParameters(Map.of("max-bandwidth", 8L << 20, "downtime-limit", 1L));
            src.migrate(dst.incomingAddress().orElseThrow().toString());
            await(() -> src.outgoingStatus() == MigrationStatus.ACTIVE && ram(src).get("multifd-bytes") instanceof Long b
                    && b > (2L << 20), Duration.ofSeconds(20), () -> "pre-copy on multifd: " + src.queryMigrate());
            src.migrateCancel();
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(10), "cancel");
            assertThat(src.outgoingStatus()).isEqualTo(MigrationStatus.CANCELLED);
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(10), "destination to give up");
            assertThat(dst.incomingStatus()).isEqualTo(MigrationStatus.FAILED);
            assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
            assertThat(Thread.getAllStackTraces().keySet()).as("every channel thread ended")
                    .noneMatch(t -> t.getName().startsWith("multifdsend_") && t.isAlive());
        }
    }

    @Test
    @Timeout(30)
    void parametersAreValidatedAndMultifdConflictsWithXbzrleAndFile() throws Exception {
        try (VirtualMachine vm = VirtualMachine.start(config(4L << 20, List.of(), Optional.empty(), false))) {
            assertThat(vm.queryMigrateParameters()).containsEntry("multifd-channels", 2L)
                    .containsEntry("multifd-compression", "none").containsEntry("multifd-zstd-level", 1L)
                    .containsEntry("multifd-zlib-level", 1L);
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("multifd-zlib-level", 10L)))
                    .hasMessage("Parameter 'multifd_zlib_level' expects a value between 0 and 9");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("multifd-compression", "qpl")))
                    .hasMessage("Parameter 'multifd-compression' does not accept value 'qpl' (livemig implements none, zlib and zstd)");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("multifd-channels", 0L)))
                    .hasMessage("Parameter 'multifd_channels' expects a value between 1 and 255");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("multifd-zstd-level", 21L)))
                    .hasMessage("Parameter 'multifd_zstd_level' expects a value between 0 and 20");
            assertThatThrownBy(() -> vm.setMigrateParameters(Map.of("multifd-compression", "lz4")))
                    .hasMessage("Parameter 'multifd-compression' does not accept value 'lz4'");
            assertThatThrownBy(() -> vm.setMigrateCapabilities(List.of(Map.of("capability", "multifd", "state", true),
                    Map.of("capability", "xbzrle", "state", true))))
                    .hasMessage("Multifd is not compatible with xbzrle");
            enableMultifd(vm, 2, "none");
            vm.migrate("file:/dev/null");
            await(() -> vm.outgoingStatus().isFinished(), Duration.ofSeconds(20), "file migration to fail");
            assertThat(vm.queryMigrate()).containsEntry("status", "failed");
            assertThat((String) vm.queryMigrate().get("error-desc")).contains("multifd").contains("mapped-ram");
            assertThat(vm.runState()).isEqualTo(RunState.RUNNING);
        }
    }

    /** Random pages, one in 16 left zero. */
    static void fillRandom(RamBlock block, long seed) {
        block.forgetKnownZero();
        SplittableRandom r = new SplittableRandom(seed);
        for (long off = 0; off < block.size(); off += 8) {
            if ((off >> 12) % 16 != 0) {
                block.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, off, r.nextLong());
            }
        }
    }

    /** Text-like pages: words from a small vocabulary, so zstd shrinks them several times over. */
    static void fillCompressible(RamBlock block, long seed) {
        block.forgetKnownZero();
        SplittableRandom r = new SplittableRandom(seed);
        String[] words = {"migration ", "page ", "dirty ", "channel ", "packet ", "guest ", "zstd ", "qemu "};
        byte[] page = new byte[4096];
        for (long off = 0; off < block.size(); off += 4096) {
            int p = 0;
            while (p < page.length) {
                byte[] wd = words[r.nextInt(words.length)].getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                int n = Math.min(wd.length, page.length - p);
                System.arraycopy(wd, 0, page, p, n);
                p += n;
            }
            java.lang.foreign.MemorySegment.copy(page, 0, block.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, off, page.length);
        }
    }
}
