package io.livemig.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.BitSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class WorkloadTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final long SEED = 0x0BADC0FFEEL;
    private static final long MIB = 1 << 20;

    private static WorkloadSpec spec(String target, long rate, WorkloadSpec.Pattern p, long hotset, int threads, long seed) {
        return new WorkloadSpec(target, rate, p, hotset, threads, seed);
    }

    @Test
    void rejectsBadSpecsNamingValueAndRule() {
        try (RamBlock b = RamBlock.anonymous("mem0", 16 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            assertThatThrownBy(() -> Workload.start(spec("mem0", 4096, WorkloadSpec.Pattern.RANDOM, 0, 0, 1), b, gate))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("workload threads must be at least 1, got 0");
            assertThatThrownBy(() -> Workload.start(spec("mem0", 0, WorkloadSpec.Pattern.RANDOM, 0, 1, 1), b, gate))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("workload dirty-rate must be at least 1 byte/s or max, got 0");
            assertThatThrownBy(() -> Workload.start(spec("mem0", 4096, WorkloadSpec.Pattern.HOTSET, 0, 1, 1), b, gate))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("workload hotset-size must be 1..65536 bytes (the size of 'mem0'), got 0");
            assertThatThrownBy(() -> Workload.start(spec("mem0", 4096, WorkloadSpec.Pattern.HOTSET, 65537, 1, 1), b, gate))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("workload hotset-size must be 1..65536 bytes (the size of 'mem0'), got 65537");
            assertThatThrownBy(() -> Workload.start(new WorkloadSpec("mem0", 4096, WorkloadSpec.Pattern.RANDOM, 0, 1, 1, 12), b, gate))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("workload write-bytes must be a multiple of 8 in 8..4096, got 12");
            assertThatThrownBy(() -> Workload.start(new WorkloadSpec("mem0", 4096, WorkloadSpec.Pattern.RANDOM, 0, 1, 1, 4104), b, gate))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("workload write-bytes must be a multiple of 8 in 8..4096, got 4104");
            assertThatThrownBy(() -> Workload.start(spec("other", 4096, WorkloadSpec.Pattern.RANDOM, 0, 1, 1), b, gate))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("workload target must be the RAM block it writes, 'mem0', got 'other'");
        }
    }

    @Test
    void respectsTheDirtyRate() {
        long rate = 8 * MIB;
        try (RamBlock b = RamBlock.anonymous("mem0", 64 * MIB, true)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            long start = System.nanoTime();
            try (Workload w = Workload.start(spec("mem0", rate, WorkloadSpec.Pattern.RANDOM, 0, 2, SEED), b, gate)) {
                Await.until(() -> System.nanoTime() - start >= 1_000_000_000L, TIMEOUT, () -> "one second passes");
                long pages = w.pagesDirtied();
                double seconds = (System.nanoTime() - start) / 1e9;
                double measured = pages * 4096.0 / seconds;
                assertThat(measured).as("bytes/s dirtied (seed %d, %d pages in %.3f s) vs %d", SEED, pages, seconds, rate)
                        .isBetween(0.5 * rate, 1.5 * rate);
                assertThat(w.failure()).isNull();
            }
        }
    }

    @Test
    void threadsAreNamedDaemonsAndCloseStopsThem() {
        try (RamBlock b = RamBlock.anonymous("ram1", 64 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            Workload w = Workload.start(spec("ram1", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.RANDOM, 0, 2, SEED), b, gate);
            Await.until(() -> w.pagesDirtied() > 10_000, TIMEOUT, () -> "unthrottled workload writes");
            Thread[] all = new Thread[Thread.activeCount() + 8];
            int n = Thread.enumerate(all);
            int vcpus = 0;
            for (int i = 0; i < n; i++) {
                if (all[i].getName().startsWith("vcpu-ram1-")) {
                    assertThat(all[i].isDaemon()).isTrue();
                    assertThat(all[i].getName()).isIn("vcpu-ram1-0", "vcpu-ram1-1");
                    vcpus++;
                }
            }
            assertThat(vcpus).isEqualTo(2);
            w.close();
            assertThat(w.isDone()).isTrue();
            assertThat(w.failure()).isNull();
        }
    }

    @Test
    void hotsetWritesStayInTheHotSet() {
        long hotset = 10 * 4096 + 100; // rounds up to 11 pages
        try (RamBlock b = RamBlock.anonymous("mem0", 256 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            try (Workload w = Workload.start(spec("mem0", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.HOTSET, hotset, 2, SEED),
                    b, gate)) {
                Await.until(() -> w.pagesDirtied() > 100_000, TIMEOUT, () -> "hotset workload writes");
            }
            long[] bitmap = new long[(int) DirtyLog.wordsFor(b.pages())];
            b.dirtyLog().harvest(bitmap);
            BitSet dirty = BitSet.valueOf(bitmap);
            assertThat(dirty.length()).as("highest dirty page + 1, seed %d", SEED).isEqualTo(11);
            assertThat(dirty.cardinality()).as("every hot page written, seed %d", SEED).isEqualTo(11);
        }
    }

    @Test
    void parksWhilePausedAndResumesOnRunning() {
        try (RamBlock b = RamBlock.anonymous("mem0", 1024 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            try (Workload w = Workload.start(spec("mem0", 64 * MIB, WorkloadSpec.Pattern.SEQUENTIAL, 0, 2, SEED), b, gate)) {
                Await.until(() -> w.pagesDirtied() > 100, TIMEOUT, () -> "workload writes while running");
                gate.set(RunState.PAUSED);
                b.dirtyLog().clear();
                long frozen = w.pagesDirtied();
                Await.holdsFor(() -> w.pagesDirtied() == frozen && b.dirtyLog().countDirty() == 0,
                        Duration.ofMillis(50), () -> "guest wrote while paused, seed " + SEED);
                gate.set(RunState.RUNNING);
                Await.until(() -> w.pagesDirtied() > frozen + 100, TIMEOUT, () -> "workload resumes");
                assertThat(b.dirtyLog().countDirty()).isPositive();
            }
        }
    }

    @Test
    void closeStopsAWorkloadParkedInAPausedGate() {
        try (RamBlock b = RamBlock.anonymous("mem0", 16 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.PAUSED);
            Workload w = Workload.start(spec("mem0", MIB, WorkloadSpec.Pattern.RANDOM, 0, 2, SEED), b, gate);
            w.close();
            assertThat(w.isDone()).isTrue();
            assertThat(w.pagesDirtied()).isZero();
        }
    }

    @Test
    void sameSeedWritesTheSameContent() {
        long pagesToWrite = 3000;
        byte[] first = runSequential(SEED, pagesToWrite);
        byte[] second = runSequential(SEED, pagesToWrite);
        byte[] other = runSequential(SEED + 1, pagesToWrite);
        assertThat(second).as("seed %d twice", SEED).isEqualTo(first);
        assertThat(other).as("seeds %d and %d", SEED, SEED + 1).isNotEqualTo(first);
    }

    @Test
    void writeBytesRewritesOneContiguousRunPerDirtiedPage() {
        try (RamBlock b = RamBlock.anonymous("mem0", 256 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            WorkloadSpec spec = new WorkloadSpec("mem0", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.SEQUENTIAL, 0, 1, SEED, 64);
            try (Workload w = Workload.start(spec, b, gate, 256)) {
                Await.until(w::isDone, TIMEOUT, () -> "one sweep, seed " + SEED);
                assertThat(w.failure()).isNull();
            }
            byte[] mem = b.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            int widest = 0;
            for (int p = 0; p < 256; p++) {
                int first = -1;
                int last = -1;
                for (int i = 0; i < 4096; i++) {
                    if (mem[p * 4096 + i] != 0) {
                        first = first < 0 ? i : first;
                        last = i;
                    }
                }
                assertThat(first).as("seed %d: page %d written", SEED, p).isNotNegative();
                assertThat(last - first).as("seed %d: page %d: one run of at most 64 bytes", SEED, p).isLessThan(64);
                assertThat(first / 8).as("seed %d: page %d: the run is 8-byte aligned", SEED, p).isGreaterThanOrEqualTo((last - 63 + 7) / 8);
                widest = Math.max(widest, last - first + 1);
            }
            assertThat(widest).as("seed %d: some page shows all 64 bytes", SEED).isGreaterThan(56);
        }
    }

    /** One SEQUENTIAL thread over 1024 pages, stopped after {@code pages} writes (a sweep and a bit). */
    private static byte[] runSequential(long seed, long pages) {
        try (RamBlock b = RamBlock.anonymous("mem0", 1024 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            try (Workload w = Workload.start(spec("mem0", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.SEQUENTIAL, 0, 1, seed),
                    b, gate, pages)) {
                Await.until(w::isDone, TIMEOUT, () -> "workload writes " + pages + " pages, seed " + seed);
                assertThat(w.pagesDirtied()).isEqualTo(pages);
                assertThat(w.failure()).isNull();
            }
            assertThat(b.dirtyLog().countDirty()).as("a full sweep dirties every page").isEqualTo(1024);
            return b.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    @Test
    void sequentialThreadsInterleave() {
        try (RamBlock b = RamBlock.anonymous("mem0", 64 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            try (Workload w = Workload.start(spec("mem0", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.SEQUENTIAL, 0, 2, SEED),
                    b, gate, 16)) {
                Await.until(w::isDone, TIMEOUT, () -> "two threads write 16 pages each");
            }
            long[] bitmap = new long[1];
            b.dirtyLog().harvest(bitmap);
            assertThat(bitmap[0]).as("pages 0..31, thread 0 the even ones, thread 1 the odd ones").isEqualTo(0xFFFF_FFFFL);
        }
    }

    @Test
    void writeLoopAllocatesNothing() {
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (RamBlock b = RamBlock.anonymous("mem0", 256 * 4096, false)) {
            RunStateGate gate = new RunStateGate(RunState.RUNNING);
            try (Workload w = Workload.start(spec("mem0", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.RANDOM, 0, 1, SEED), b, gate)) {
                Await.until(() -> w.pagesDirtied() > 2_000_000, TIMEOUT, () -> "warm up");
                Thread vcpu = findThread("vcpu-mem0-0");
                long before = mx.getThreadAllocatedBytes(vcpu.threadId());
                long pagesBefore = w.pagesDirtied();
                Await.until(() -> w.pagesDirtied() > pagesBefore + 1_000_000, TIMEOUT, () -> "a million more writes");
                long allocated = mx.getThreadAllocatedBytes(vcpu.threadId()) - before;
                assertThat(allocated).as("bytes allocated by the vCPU thread over a million writes").isLessThan(1024);
            }
        }
    }

    private static Thread findThread(String name) {
        Thread[] all = new Thread[Thread.activeCount() + 8];
        int n = Thread.enumerate(all);
        for (int i = 0; i < n; i++) {
            if (all[i].getName().equals(name)) {
                return all[i];
            }
        }
        throw new AssertionError("no thread " + name);
    }
}
