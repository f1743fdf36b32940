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
        long end = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
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
}
