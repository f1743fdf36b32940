package io.livemig.stress;

import io.livemig.guest.DirtyLog;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/** Two writers set different bits of one word at once: a plain {@code |=} would lose one of them. */
@JCStressTest
@Description("two concurrent DirtyLog.markDirty calls on the same word keep both bits")
@Outcome(id = "1, 1", expect = Expect.ACCEPTABLE, desc = "both bits harvested")
@Outcome(id = "0, 1", expect = Expect.FORBIDDEN, desc = "first writer's bit lost")
@Outcome(id = "1, 0", expect = Expect.FORBIDDEN, desc = "second writer's bit lost")
@Outcome(id = "0, 0", expect = Expect.FORBIDDEN, desc = "both bits lost")
@State
public class DirtyLogSameWordTest {

    private final DirtyLog log = new DirtyLog(64);

    @Actor
    public void vcpu0() {
        log.markDirty(3);
    }

    @Actor
    public void vcpu1() {
        log.markDirty(60);
    }

    @Arbiter
    public void harvest(II_Result r) {
        long[] bitmap = new long[1];
        log.harvest(bitmap);
        r.r1 = (int) (bitmap[0] >>> 3) & 1;
        r.r2 = (int) (bitmap[0] >>> 60) & 1;
    }
}
