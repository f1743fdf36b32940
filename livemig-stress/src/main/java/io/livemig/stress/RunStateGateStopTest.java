package io.livemig.stress;

import io.livemig.guest.RunState;
import io.livemig.guest.RunStateGate;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * The quiescence invariant of {@link RunStateGate}: a vCPU that gets in writes guest memory; the
 * controller, once {@code set(PAUSED)} returns, reads memory. A write that got in must be
 * finished (and visible) when set returns; a vCPU that did not get in wrote nothing.
 */
@JCStressTest
@Description("after RunStateGate.set(PAUSED) returns, every guest write that got in is complete and no new one starts")
@Outcome(id = "1, 1", expect = Expect.ACCEPTABLE, desc = "vCPU got in before the stop; the stop waited for its write")
@Outcome(id = "0, 0", expect = Expect.ACCEPTABLE, desc = "the stop came first; the vCPU stayed out")
@Outcome(id = "1, 0", expect = Expect.FORBIDDEN, desc = "a guest write in progress or started after set(PAUSED) returned")
@Outcome(id = "0, 1", expect = Expect.FORBIDDEN, desc = "impossible: data written without entering")
@State
public class RunStateGateStopTest {

    private final RunStateGate gate = new RunStateGate(RunState.RUNNING);
    /** guest memory; plain */
    private int data;

    @Actor
    public void vcpu(II_Result r) {
        if (gate.tryEnter()) {
            try {
                data = 1;
            } finally {
                gate.exit();
            }
            r.r1 = 1;
        }
    }

    @Actor
    public void controller(II_Result r) {
        gate.set(RunState.PAUSED);
        r.r2 = data;
    }
}
