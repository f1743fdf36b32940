package io.livemig.guest;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One bit per target page: the pages an incoming migration has written into a {@link RamBlock}
 * (QEMU's {@code RAMBlock.receivedmap}). With it the destination knows which pages still hold
 * the zeros they were created with, so a ZERO record for such a page needs neither a read nor a
 * write ({@link RamBlock#knownZero}).
 *
 * <p>Bits are only ever set, never cleared: a page written by a load that later failed stays
 * marked, so a second incoming migration into the same guest still checks it. Loaders set the
 * bit <em>before</em> writing the page, so that a write cut short by a bad stream is never
 * mistaken for a page that kept its zeros.
 *
 * <p>Thread-safe: the multifd receiver threads set bits of neighbouring pages at once, so a set
 * is an atomic OR (skipped when the bit is already set, the common case for a page sent again).
 * A reader sees a bit set by another thread once that thread's writes are ordered before the read,
 * which the MULTIFD_FLUSH barrier guarantees between rounds.
 */
public final class ReceivedMap {

    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);

    private final long pages;
    private final long[] words;

    public ReceivedMap(long pages) {
        if (pages < 0 || (pages + 63) / 64 > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pages must be 0.." + 64L * Integer.MAX_VALUE + ", got " + pages);
        }
        this.pages = pages;
        this.words = new long[(int) ((pages + 63) >>> 6)];
    }

    public long pages() {
        return pages;
    }

    /** Whether page {@code page} was marked. */
    public boolean test(long page) {
        long w = (long) WORDS.getAcquire(words, (int) (page >>> 6));
        return (w & (1L << page)) != 0;
    }

    /** Marks page {@code page}. */
    public void set(long page) {
        int i = (int) (page >>> 6);
        long bit = 1L << page;
        if (((long) WORDS.getAcquire(words, i) & bit) == 0) {
            WORDS.getAndBitwiseOrRelease(words, i, bit);
        }
    }

    /** Marks pages {@code first} .. {@code first + count - 1}. */
    public void setRange(long first, long count) {
        for (long p = first, end = first + count; p < end; p++) {
            set(p);
        }
    }
}
