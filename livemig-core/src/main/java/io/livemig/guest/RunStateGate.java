package io.livemig.guest;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The guest's run state and the vCPU quiescence protocol (QEMU's {@code runstate_set} plus
 * {@code pause_all_vcpus}: after {@code vm_stop} returns, no vCPU executes guest code).
 *
 * <h2>Protocol</h2>
 * A vCPU brackets each bounded batch of guest writes (≤ about 1 ms) with {@link #enter()} and
 * {@link #exit()}. A controller changes the state with {@link #set} or {@link #compareAndSet}.
 *
 * <h2>Invariant</h2>
 * When {@code set(s)} with {@code s != RUNNING} returns, no vCPU is between {@code enter()} and
 * {@code exit()}, and no {@code enter()} returns {@code true} until the state is RUNNING again.
 *
 * <h2>How (no lock is held while vCPUs write)</h2>
 * Two volatile words, {@code state} and the counter {@code inside}, used as a Dekker pair:
 * <pre>
 *   vCPU enter:   inside++ (volatile RMW);  read state;  RUNNING ? go in : inside--, park
 *   controller:   state = S (volatile);     read inside; wait until it is 0
 * </pre>
 * All four accesses are synchronization actions, so they are totally ordered: either the vCPU's
 * read sees the new state (it backs out and parks), or its increment precedes the controller's
 * read of {@code inside} (the controller waits for its {@code exit}). A vCPU that read RUNNING
 * before the change is therefore counted. The controller cannot starve: once the state is not
 * RUNNING, every vCPU that increments the counter backs out at once, so {@code inside} falls to
 * zero within one batch. The controller parks while it waits; the {@code exit} that drops the
 * counter to zero while the state is not RUNNING unparks it (the controller publishes itself in
 * {@code stopper} before it writes the state, so that {@code exit} cannot miss it).
 *
 * <p>Parked vCPUs wait on a monitor that only the slow path uses: entering RUNNING and
 * {@link #shutdown()} notify it. Controllers are serialized by a lock, held across the drain
 * and the listeners; vCPU threads never take it. A controller must not be a vCPU thread that
 * is inside the gate (it would wait for itself).
 */
public final class RunStateGate {

    private final ReentrantLock control = new ReentrantLock();
    private final Object parked = new Object();
    private final AtomicInteger inside = new AtomicInteger();
    private final List<Consumer<RunState>> listeners = new CopyOnWriteArrayList<>();

    private volatile RunState state;
    private volatile boolean shutdown;
    /** The controller waiting for {@code inside} to drain, or null. */
    private volatile Thread stopper;

    /** A gate in {@code initial} state (QEMU starts in {@link RunState#PRELAUNCH}). */
    public RunStateGate(RunState initial) {
        this.state = Objects.requireNonNull(initial, "initial");
    }

    /** A gate in {@link RunState#PRELAUNCH}. */
    public RunStateGate() {
        this(RunState.PRELAUNCH);
    }

    /** The current state. */
    public RunState state() {
        return state;
    }

    /** Whether {@link #shutdown()} was called. */
    public boolean isShutdown() {
        return shutdown;
    }

    /**
     * Calls {@code listener} with the new state after each change (not when a state is set to
     * itself), on the changing thread, after the drain.
     */
    public void addListener(Consumer<RunState> listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * vCPU side: waits until the state is RUNNING and registers the caller as inside the guest.
     * Call {@link #exit()} after a bounded batch of writes.
     *
     * @return {@code false} when the gate is shut down or the thread is interrupted while it
     *         waits (the interrupt status stays set): the vCPU must stop and not call exit()
     */
    public boolean enter() {
        for (;;) {
            if (shutdown) {
                return false;
            }
            if (tryEnter()) {
                return true;
            }
            if (!awaitRunning()) {
                return false;
            }
        }
    }

    /**
     * vCPU side, non-blocking: registers the caller as inside the guest if the state is RUNNING
     * (and the gate is not shut down), else returns {@code false} at once.
     *
     * @return whether the caller is inside and must call {@link #exit()}
     */
    public boolean tryEnter() {
        if (shutdown || state != RunState.RUNNING) {
            return false;
        }
        inside.incrementAndGet();
        if (state == RunState.RUNNING && !shutdown) {
            return true;
        }
        exit();
        return false;
    }

    /** vCPU side: leaves the guest after {@link #enter()} or {@link #tryEnter()} returned {@code true}. */
    public void exit() {
        if (inside.decrementAndGet() == 0 && state != RunState.RUNNING) {
            Thread t = stopper;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    private boolean awaitRunning() {
        synchronized (parked) {
            while (state != RunState.RUNNING && !shutdown) {
                try {
                    parked.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Changes the state. Leaving RUNNING waits until no vCPU is inside the gate; entering it wakes
     * parked vCPUs. Listeners run after the change.
     */
    public void set(RunState next) {
        Objects.requireNonNull(next, "next");
        control.lock();
        try {
            change(next);
        } finally {
            control.unlock();
        }
    }

    /**
     * Changes the state to {@code update} only if it is {@code expect}, with the semantics of
     * {@link #set}.
     *
     * @return whether the state was {@code expect} and is now {@code update}
     */
    public boolean compareAndSet(RunState expect, RunState update) {
        Objects.requireNonNull(update, "update");
        control.lock();
        try {
            if (state != expect) {
                return false;
            }
            change(update);
            return true;
        } finally {
            control.unlock();
        }
    }

    /** Wakes every parked vCPU; from now on {@link #enter()} returns {@code false}. */
    public void shutdown() {
        shutdown = true;
        synchronized (parked) {
            parked.notifyAll();
        }
    }

    /** Under {@link #control}. */
    private void change(RunState next) {
        RunState prev = state;
        if (next == RunState.RUNNING) {
            state = next;
            if (prev != RunState.RUNNING) {
                synchronized (parked) {
                    parked.notifyAll();
                }
            }
        } else {
            stopper = Thread.currentThread(); // published before the state, see the class comment
            state = next;
            try {
                drain();
            } finally {
                stopper = null;
            }
        }
        if (next != prev) {
            for (Consumer<RunState> l : listeners) {
                l.accept(next);
            }
        }
    }

    /** Waits until no vCPU is inside. Interrupts are deferred: the invariant must hold on return. */
    private void drain() {
        boolean interrupted = false;
        while (inside.get() != 0) {
            // exit() unparks us when the count reaches zero; the timeout only bounds a spurious miss
            LockSupport.parkNanos(this, 1_000_000L);
            if (Thread.interrupted()) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
