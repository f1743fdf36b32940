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
 * The copy-or-re-mark guarantee when the writer skips the atomic: the page is already dirty, the
 * guest writes the page ({@code data = 1}) and marks it (seeing the bit set, it skips the
 * {@code getAndBitwiseOr}), while the migration thread harvests and then copies the page.
 * Either the copy sees the write, or the bit is set again for the next pass; never neither.
 */
@JCStressTest
@Description("a guest write racing harvest-then-copy is either copied or left dirty")
@Outcome(id = "1, 0", expect = Expect.ACCEPTABLE, desc = "the copy saw the write")
@Outcome(id = "1, 1", expect = Expect.ACCEPTABLE, desc = "the copy saw the write and the page is dirty again")
@Outcome(id = "0, 1", expect = Expect.ACCEPTABLE, desc = "the copy missed the write, the next pass copies it")
@Outcome(id = "0, 0", expect = Expect.FORBIDDEN, desc = "write lost: not copied and not dirty")
@State
public class DirtyLogWriteVisibilityTest {

    private final DirtyLog log = new DirtyLog(64);
    private final long[] bitmap = new long[1];
    /** the page's content; plain, as guest RAM is */
    private long data;
    private long copy;

    public DirtyLogWriteVisibilityTest() {
        log.markDirty(9);
    }

    @Actor
    public void guest() {
        data = 1;
        log.markDirty(9);
    }

    @Actor
    public void migration() {
        log.harvest(bitmap);
        copy = data;
    }

    @Arbiter
    public void nextPass(II_Result r) {
        r.r1 = (int) copy;
        r.r2 = log.isDirty(9) ? 1 : 0;
    }
}
