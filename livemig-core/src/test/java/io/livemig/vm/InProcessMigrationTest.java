package io.livemig.vm;

import io.livemig.guest.RamBlock;
import io.livemig.guest.RunState;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two guests in one JVM migrating over real sockets: the quickest whole-engine check. The
 * two-process system tests in livemig-cli prove the same through QMP.
 */
class InProcessMigrationTest {

    static VmConfig config(long size, List<WorkloadSpec> workloads, Optional<String> incoming, boolean paused) {
        return new VmConfig(Optional.of("t"), Optional.empty(), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", size, Optional.empty(), false, false)),
                workloads, paused, incoming);
    }

    static void await(BooleanSupplier cond, Duration timeout, String what) {
        await(cond, timeout, () -> what);
    }

    /** Waits for {@code cond} with a hard timeout; {@code what} is evaluated only on failure. */
    static void await(BooleanSupplier cond, Duration timeout, java.util.function.Supplier<String> what) {
        long end = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what.get());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }

    static void assertSameRam(VirtualMachine a, VirtualMachine b) {
        RamBlock x = a.memory().find("mem0");
        RamBlock y = b.memory().find("mem0");
        assertThat(MemorySegment.mismatch(x.segment(), 0, x.size(), y.segment(), 0, y.size()))
                .as("first differing byte").isEqualTo(-1);
    }

    @Test
    @Timeout(120)
    void liveGuestConvergesOverTcpAndDestinationRamEqualsSource() throws Exception {
        long size = 64L << 20;
        WorkloadSpec w = new WorkloadSpec("mem0", 8L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, 42);
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
            src.setMigrateParameters(Map.of("max-bandwidth", 0L));
            src.migrate(dst.incomingAddress().orElseThrow().toString());
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(90), "source to finish");
            assertThat(src.queryMigrate()).containsEntry("status", "completed");
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(10), "destination to finish");
            assertThat(dst.incomingStatus()).isEqualTo(MigrationStatus.COMPLETED);
            assertThat(src.runState()).isEqualTo(RunState.POSTMIGRATE);
            assertThat(dst.runState()).isEqualTo(RunState.RUNNING);
            assertSameRam(src, dst);
        }
    }

    @Test
    @Timeout(60)
    void pausedGuestThroughAFileKeepsItsRunState(@TempDir Path dir) throws Exception {
        long size = 16L << 20;
        Path file = dir.resolve("state.bin");
        WorkloadSpec w = new WorkloadSpec("mem0", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.RANDOM, 0, 1, 7);
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false))) {
            await(() -> src.memory().find("mem0").dirtyLog().countDirty() > 100, Duration.ofSeconds(10), "workload writes");
            src.stop();
            src.migrate("file:" + file);
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(30), "save to finish");
            assertThat(src.outgoingStatus()).isEqualTo(MigrationStatus.COMPLETED);
            try (VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("file:" + file), false))) {
                await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(30), "restore to finish");
                assertThat(dst.incomingStatus()).isEqualTo(MigrationStatus.COMPLETED);
                assertThat(dst.runState()).isEqualTo(RunState.PAUSED);
                assertSameRam(src, dst);
            }
        }
    }

    @Test
    @Timeout(60)
    void eventsFollowQemusOrderWhenTheEventsCapabilityIsOn() throws Exception {
        long size = 16L << 20;
        WorkloadSpec w = new WorkloadSpec("mem0", 4L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, 3);
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            java.util.Queue<String> srcEvents = new java.util.concurrent.ConcurrentLinkedQueue<>();
            java.util.Queue<String> dstEvents = new java.util.concurrent.ConcurrentLinkedQueue<>();
            src.addEventListener((e, d) -> srcEvents.add(e + d));
            dst.addEventListener((e, d) -> dstEvents.add(e + d));
            src.setMigrateCapabilities(List.of(Map.of("capability", "events", "state", true),
                    Map.of("capability", "return-path", "state", true)));
            dst.setMigrateCapabilities(List.of(Map.of("capability", "events", "state", true)));
            src.migrate(dst.incomingAddress().orElseThrow().toString());
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(45), "source to finish");
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(10), "destination to finish");
            assertThat(src.outgoingStatus()).isEqualTo(MigrationStatus.COMPLETED);
            List<String> s = List.copyOf(srcEvents).stream().filter(e -> !e.startsWith("MIGRATION_PASS")).toList();
            assertThat(s).containsExactly("MIGRATION{status=setup}", "MIGRATION{status=active}", "STOP{}",
                    "MIGRATION{status=device}", "MIGRATION{status=completed}");
            assertThat(srcEvents).anyMatch(e -> e.startsWith("MIGRATION_PASS{pass="));
            assertThat(List.copyOf(dstEvents)).containsExactly("MIGRATION{status=active}", "RESUME{}",
                    "MIGRATION{status=completed}");
            assertSameRam(src, dst);
        }
    }

    @Test
    @Timeout(60)
    void cancelInPrecopyLeavesTheSourceRunningAndASecondMigrationCompletes() throws Exception {
        long size = 64L << 20;
        WorkloadSpec w = new WorkloadSpec("mem0", 16L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, 5);
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), false));
             VirtualMachine dst1 = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false));
             VirtualMachine dst2 = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), false))) {
            // 8 MiB/s cannot converge against 16 MiB/s of dirtying: the migration stays in pre-copy
            // QEMU's migrate_ensure_non_converge: a low bandwidth and a 1 ms downtime limit. The RAM
            // is random first, so the first pass alone takes seconds whatever the workload did by
            // then (an untouched guest is all zero pages, sent in milliseconds)
            MultifdMigrationTest.fillRandom(src.memory().find("mem0"), 11);
            src.setMigrateParameters(Map.of("max-bandwidth", 8L << 20, "downtime-limit", 1L));
            src.migrate(dst1.incomingAddress().orElseThrow().toString());
            await(() -> src.outgoingStatus() != MigrationStatus.SETUP && src.outgoingStatus() != MigrationStatus.ACTIVE
                    || ((Map<?, ?>) src.queryMigrate().getOrDefault("ram", Map.of())).get("transferred") instanceof Long t
                    && t > (4L << 20), Duration.ofSeconds(20), () -> "pre-copy to move 4 MiB: " + src.queryMigrate());
            assertThat(src.outgoingStatus()).as("%s", src.queryMigrate()).isEqualTo(MigrationStatus.ACTIVE);
            src.migrateCancel();
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(10), "cancel");
            assertThat(src.outgoingStatus()).isEqualTo(MigrationStatus.CANCELLED);
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            await(() -> dst1.incomingStatus().isFinished(), Duration.ofSeconds(10), "first destination to give up");
            assertThat(dst1.incomingStatus()).isEqualTo(MigrationStatus.FAILED);
            assertThat(dst1.runState()).isEqualTo(RunState.INMIGRATE);

            src.setMigrateParameters(Map.of("max-bandwidth", 0L, "downtime-limit", 300L));
            src.migrate(dst2.incomingAddress().orElseThrow().toString());
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(45), "second migration");
            assertThat(src.outgoingStatus()).isEqualTo(MigrationStatus.COMPLETED);
            await(() -> dst2.incomingStatus().isFinished(), Duration.ofSeconds(10), "second destination");
            assertSameRam(src, dst2);
        }
    }

    @Test
    @Timeout(30)
    void migratingToAPortWhereNothingListensFailsAndTheSourceKeepsRunning() throws Exception {
        int port;
        try (java.nio.channels.ServerSocketChannel s = java.nio.channels.ServerSocketChannel.open()) {
            s.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
            port = ((java.net.InetSocketAddress) s.getLocalAddress()).getPort();
        }
        WorkloadSpec w = new WorkloadSpec("mem0", 1L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, 5);
        try (VirtualMachine src = VirtualMachine.start(config(4L << 20, List.of(w), Optional.empty(), false))) {
            src.migrate("tcp:127.0.0.1:" + port);
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(20), "the failure");
            Map<String, Object> info = src.queryMigrate();
            assertThat(info).containsEntry("status", "failed");
            assertThat((String) info.get("error-desc")).contains("127.0.0.1:" + port).contains("refused");
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
        }
    }

    @Test
    @Timeout(30)
    void cancellingAnIncomingMigrationThatNeverConnectedRestoresTheGuest() throws Exception {
        try (VirtualMachine vm = VirtualMachine.start(config(4L << 20, List.of(), Optional.empty(), false))) {
            vm.stop();
            vm.migrateIncoming("tcp:127.0.0.1:0");
            assertThat(vm.runState()).isEqualTo(RunState.INMIGRATE);
            assertThat(vm.incomingStatus()).isEqualTo(MigrationStatus.SETUP);
            vm.migrateCancel();
            await(() -> vm.incomingStatus().isFinished(), Duration.ofSeconds(10), "the listen to end");
            assertThat(vm.incomingStatus()).isEqualTo(MigrationStatus.FAILED);
            assertThat(vm.runState()).as("nothing was loaded: back to paused").isEqualTo(RunState.PAUSED);
            vm.cont();
            assertThat(vm.runState()).isEqualTo(RunState.RUNNING);
        }
    }
}
