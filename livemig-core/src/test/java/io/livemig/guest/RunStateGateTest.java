package io.livemig.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class RunStateGateTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    /** vCPU threads that increment {@code writes} inside the gate and {@code attempts} outside it. */
    private static final class Vcpus implements AutoCloseable {
        final AtomicLong writes = new AtomicLong();
        final AtomicLong attempts = new AtomicLong();
        final AtomicLong inside = new AtomicLong();
        final Thread[] threads;
        final RunStateGate gate;

        Vcpus(RunStateGate gate, int n) {
            this.gate = gate;
            threads = new Thread[n];
            for (int i = 0; i < n; i++) {
                threads[i] = new Thread(this::run, "test-vcpu-" + i);
                threads[i].setDaemon(true);
                threads[i].start();
            }
        }

        void run() {
            for (;;) {
                attempts.incrementAndGet();
                if (!gate.enter()) {
                    return;
                }
                try {
                    inside.incrementAndGet();
                    for (int k = 0; k < 100; k++) {
                        writes.incrementAndGet();
                    }
                } finally {
                    inside.decrementAndGet();
                    gate.exit();
                }
            }
        }

        @Override
        public void close() {
            gate.shutdown();
            for (Thread t : threads) {
                Await.until(() -> !t.isAlive(), TIMEOUT, () -> t.getName() + " ends after shutdown");
            }
        }
    }

    @Test
    void noGuestWriteHappensBetweenPauseAndResume() throws Exception {
        RunStateGate gate = new RunStateGate(RunState.RUNNING);
        try (Vcpus v = new Vcpus(gate, 4)) {
            for (int round = 0; round < 50; round++) {
                long base = v.writes.get();
                Await.until(() -> v.writes.get() > base + 1000, TIMEOUT, () -> "vCPUs make progress while running");

                gate.set(RunState.PAUSED);
                assertThat(v.inside.get()).as("round %d: nobody inside after set(PAUSED) returned", round).isZero();
                long frozen = v.writes.get();
                Await.holdsFor(() -> v.writes.get() == frozen, Duration.ofMillis(round == 0 ? 50 : 2),
                        () -> "write while paused: " + v.writes.get() + " != " + frozen);
                gate.set(RunState.RUNNING);
            }
        }
    }

    @Test
    void vcpusParkWhilePausedInsteadOfSpinning() throws Exception {
        RunStateGate gate = new RunStateGate(RunState.RUNNING);
        try (Vcpus v = new Vcpus(gate, 2)) {
            Await.until(() -> v.writes.get() > 0, TIMEOUT, () -> "vCPUs run");
            gate.set(RunState.FINISH_MIGRATE);
            Await.until(() -> parked(v.threads), TIMEOUT, () -> "vCPUs park");
            long attempts = v.attempts.get();
            Await.holdsFor(() -> v.attempts.get() == attempts, Duration.ofMillis(50),
                    () -> "parked vCPUs retried while stopped");
            gate.set(RunState.RUNNING);
            long writes = v.writes.get();
            Await.until(() -> v.writes.get() > writes, TIMEOUT, () -> "vCPUs resume after RUNNING");
        }
    }

    private static boolean parked(Thread[] threads) {
        for (Thread t : threads) {
            if (t.getState() != Thread.State.WAITING) {
                return false;
            }
        }
        return true;
    }

    @Test
    void enterWaitsForRunningAndShutdownReleasesWaiters() throws Exception {
        RunStateGate gate = new RunStateGate();
        assertThat(gate.state()).isEqualTo(RunState.PRELAUNCH);
        AtomicReference<Boolean> result = new AtomicReference<>();
        Thread t = new Thread(() -> result.set(gate.enter()));
        t.start();
        Await.until(() -> t.getState() == Thread.State.WAITING, TIMEOUT, () -> "enter() blocks before RUNNING");
        gate.shutdown();
        t.join(TIMEOUT);
        assertThat(result.get()).isFalse();
        assertThat(gate.enter()).isFalse();
        assertThat(gate.isShutdown()).isTrue();
    }

    @Test
    void tryEnterNeverBlocks() {
        RunStateGate gate = new RunStateGate(RunState.PAUSED);
        assertThat(gate.tryEnter()).isFalse();
        gate.set(RunState.RUNNING);
        assertThat(gate.tryEnter()).isTrue();
        gate.exit();
        gate.set(RunState.INMIGRATE); // returns at once: nobody inside
        assertThat(gate.tryEnter()).isFalse();
        gate.set(RunState.RUNNING);
        gate.shutdown();
        assertThat(gate.tryEnter()).isFalse();
    }

    @Test
    void interruptedWaiterReturnsFalse() throws Exception {
        RunStateGate gate = new RunStateGate(RunState.PAUSED);
        AtomicReference<Boolean> result = new AtomicReference<>();
        AtomicReference<Boolean> flag = new AtomicReference<>();
        Thread t = new Thread(() -> {
            result.set(gate.enter());
            flag.set(Thread.currentThread().isInterrupted());
        });
        t.start();
        Await.until(() -> t.getState() == Thread.State.WAITING, TIMEOUT, () -> "enter() blocks while paused");
        t.interrupt();
        t.join(TIMEOUT);
        assertThat(result.get()).isFalse();
        assertThat(flag.get()).as("interrupt status kept").isTrue();
    }

    @Test
    void setWaitsForAVcpuInsideAndListenersSeeEachChange() throws Exception {
        RunStateGate gate = new RunStateGate(RunState.RUNNING);
        List<RunState> seen = new CopyOnWriteArrayList<>();
        gate.addListener(seen::add);
        assertThat(gate.enter()).isTrue();
        Thread stopper = new Thread(() -> gate.set(RunState.PAUSED), "stopper");
        stopper.start();
        Await.until(() -> gate.state() == RunState.PAUSED, TIMEOUT, () -> "state changes at once");
        Await.until(() -> stopper.getState() == Thread.State.TIMED_WAITING, TIMEOUT, () -> "stopper waits");
        assertThat(stopper.isAlive()).as("set(PAUSED) waits while a vCPU is inside").isTrue();
        assertThat(seen).as("listeners run after the drain").isEmpty();
        gate.exit();
        stopper.join(TIMEOUT);
        assertThat(stopper.isAlive()).isFalse();
        assertThat(seen).containsExactly(RunState.PAUSED);

        gate.set(RunState.PAUSED); // no change, no event
        assertThat(gate.compareAndSet(RunState.RUNNING, RunState.PAUSED)).isFalse();
        assertThat(gate.compareAndSet(RunState.PAUSED, RunState.RUNNING)).isTrue();
        assertThat(gate.state()).isEqualTo(RunState.RUNNING);
        assertThat(seen).containsExactly(RunState.PAUSED, RunState.RUNNING);
    }
}
