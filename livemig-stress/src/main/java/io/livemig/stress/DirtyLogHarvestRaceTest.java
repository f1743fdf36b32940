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

/**
 * A mark racing a harvest: the bit is returned by exactly one harvest, the concurrent one or the
 * next. Bit 0 of the word is set beforehand, so the concurrent harvest always takes the word
 * with its {@code getAndSet} and never skips it as zero.
 */
@JCStressTest
@Description("DirtyLog.markDirty racing DirtyLog.harvest loses no bit and returns none twice")
@Outcome(id = "1, 0", expect = Expect.ACCEPTABLE, desc = "the concurrent harvest took the bit")
@Outcome(id = "0, 1", expect = Expect.ACCEPTABLE, desc = "the bit was set after the exchange; the next harvest took it")
@Outcome(id = "0, 0", expect = Expect.FORBIDDEN, desc = "bit lost")
@Outcome(id = "1, 1", expect = Expect.FORBIDDEN, desc = "bit returned twice")
@State
public class DirtyLogHarvestRaceTest {

    private static final int PAGE_A = 37;

    private final DirtyLog log = new DirtyLog(64);
    private final long[] concurrent = new long[1];

    public DirtyLogHarvestRaceTest() {
        log.markDirty(0);
    }

    @Actor
    public void guest() {
        log.markDirty(PAGE_A);
    }

    @Actor
    public void migration() {
        log.harvest(concurrent);
    }

    @Arbiter
    public void next(II_Result r) {
        long[] rest = new long[1];
        log.harvest(rest);
        r.r1 = (int) (concurrent[0] >>> PAGE_A) & 1;
        r.r2 = (int) (rest[0] >>> PAGE_A) & 1;
    }
}
