package io.livemig.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.BitSet;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class DirtyLogTest {

    private static final long SEED = 0x5EED_D1F7L;

    @Test
    void marksHarvestsAndCountsNewlyDirtyPages() {
        DirtyLog log = new DirtyLog(130);
        long[] bitmap = new long[(int) DirtyLog.wordsFor(130)];
        assertThat(bitmap).hasSize(3);

        log.markDirty(0);
        log.markDirty(63);
        log.markDirty(64);
        log.markDirty(129);
        log.markDirty(129);
        assertThat(log.countDirty()).isEqualTo(4);
        assertThat(log.isDirty(63)).isTrue();
        assertThat(log.isDirty(62)).isFalse();

        assertThat(log.harvest(bitmap)).isEqualTo(4);
        assertThat(log.countDirty()).isZero();
        assertThat(bitmap).containsExactly(1L | 1L << 63, 1L, 1L << 1);

        // page 0 is still in the migration bitmap: only page 5 is newly dirty
        log.markDirty(0);
        log.markDirty(5);
        assertThat(log.harvest(bitmap)).isEqualTo(1);
        assertThat(bitmap[0]).isEqualTo(1L | 1L << 5 | 1L << 63);
        assertThat(log.harvest(bitmap)).isZero();
    }

    @Test
    void markRangeMatchesSinglePageMarksAcrossWordBoundaries() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        for (int round = 0; round < 2000; round++) {
            long pages = 1 + rnd.nextInt(300);
            long first = rnd.nextLong(pages);
            long count = rnd.nextLong(pages - first + 1);
            DirtyLog ranged = new DirtyLog(pages);
            DirtyLog single = new DirtyLog(pages);
            ranged.markRange(first, count);
            for (long p = first; p < first + count; p++) {
                single.markDirty(p);
            }
            long[] a = new long[(int) DirtyLog.wordsFor(pages)];
            long[] b = new long[a.length];
            String what = "seed " + SEED + " round " + round + ": pages=" + pages + " first=" + first + " count=" + count;
            assertThat(ranged.harvest(a)).as(what).isEqualTo(count);
            assertThat(single.harvest(b)).as(what).isEqualTo(count);
            assertThat(a).as(what).containsExactly(b);
        }
    }

    @Test
    void rejectsPagesOutsideTheLog() {
        DirtyLog log = new DirtyLog(10);
        assertThatThrownBy(() -> log.markDirty(10)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> log.markDirty(-1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> log.markRange(5, 6)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> log.harvest(new long[0]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("migration bitmap must have at least 1 words for 10 pages, got 0");
        assertThatThrownBy(() -> new DirtyLog(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("got -1");
    }

    @Test
    void clearForgetsEveryBit() {
        DirtyLog log = new DirtyLog(200);
        log.markRange(0, 200);
        assertThat(log.countDirty()).isEqualTo(200);
        log.clear();
        assertThat(log.countDirty()).isZero();
        assertThat(log.harvest(new long[4])).isZero();
    }

    @Test
    void concurrentWritersLoseNoBitAgainstAHarvester() throws Exception {
        int pages = 256; // 4 words: writers collide on words all the time
        int writers = 2;
        int perWriter = 200_000;
        DirtyLog log = new DirtyLog(pages);
        long[] bitmap = new long[4];
        BitSet expected = new BitSet(pages);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread[] threads = new Thread[writers];
        for (int w = 0; w < writers; w++) {
            long seed = SEED + w;
            SplittableRandom rnd = new SplittableRandom(seed);
            int[] sequence = new int[perWriter];
            for (int i = 0; i < perWriter; i++) {
                sequence[i] = rnd.nextInt(pages);
                synchronized (expected) {
                    expected.set(sequence[i]);
                }
            }
            threads[w] = new Thread(() -> {
                for (int p : sequence) {
                    log.markDirty(p);
                }
            }, "writer-" + w);
            threads[w].setUncaughtExceptionHandler((t, e) -> failure.set(e));
        }
        AtomicBoolean writing = new AtomicBoolean(true);
        for (Thread t : threads) {
            t.start();
        }
        long harvests = 0;
        while (writing.get()) {
            long[] fresh = new long[4];
            log.harvest(fresh);
            for (int i = 0; i < 4; i++) {
                bitmap[i] |= fresh[i];
            }
            harvests++;
            boolean alive = false;
            for (Thread t : threads) {
                alive |= t.isAlive();
            }
            writing.set(alive);
        }
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(30));
        }
        log.harvest(bitmap);
        assertThat(failure.get()).isNull();
        assertThat(BitSet.valueOf(bitmap)).as("seed %d after %d harvests", SEED, harvests).isEqualTo(expected);
    }

    @Test
    void markAndHarvestAllocateNothing() {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        DirtyLog log = new DirtyLog(1 << 16);
        long[] bitmap = new long[1 << 10];
        for (int warm = 0; warm < 20; warm++) {
            churn(log, bitmap);
        }
        long before = mx.getCurrentThreadAllocatedBytes();
        churn(log, bitmap);
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertThat(allocated).as("bytes allocated by 2^16 marks, ranges and a harvest").isZero();
    }

    private static void churn(DirtyLog log, long[] bitmap) {
        for (long p = 0; p < log.pages(); p++) {
            log.markDirty(p);
        }
        log.markRange(3, 1000);
        log.harvest(bitmap);
        log.countDirty();
    }
}
