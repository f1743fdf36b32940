package io.livemig.guest;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * The guest's write log: one bit per {@link PageSize#TARGET_PAGE_SIZE 4 KiB} page, set by the
 * writer after it writes the page and cleared by the migration thread when it harvests the log
 * (KVM's dirty log, {@code KVM_GET_DIRTY_LOG} with clear; QEMU's {@code ramblock_sync_dirty_bitmap}).
 *
 * <h2>Concurrency model</h2>
 * Any number of writer threads (vCPUs, devices) call {@link #markDirty}/{@link #markRange}; one
 * harvester (the migration thread) calls {@link #harvest} into a bitmap it owns. Bit {@code p}
 * lives in word {@code p >>> 6} of a {@code long[]} accessed only through {@link #WORDS}:
 * <ul>
 *   <li>a writer sets bits with {@code getAndBitwiseOr} (an atomic read-modify-write, so two
 *       writers of different bits of one word cannot lose each other's bit, as plain
 *       {@code |=} would);</li>
 *   <li>the harvester takes a whole word with {@code getAndSet(word, 0)}: every bit set before
 *       that exchange is returned by it, every bit set after it stays for the next harvest.
 *       No bit is lost or returned twice.</li>
 * </ul>
 *
 * <h2>Memory order: every write is either copied or re-marked</h2>
 * The writer does {@code W: write page data; F1: fullFence; R: read the word; [S: getAndBitwiseOr]}.
 * The harvester does {@code C: getAndSet(word, 0); F2: fullFence; then copies the page (D)}.
 * Take any harvest whose exchange {@code C} comes after the write in time order; we need: the
 * copy {@code D} after it sees {@code W}, or the bit is set again after {@code C} (so a later
 * pass copies the page).
 * <ol>
 *   <li>The writer sees the bit clear and performs {@code S}. Either {@code S} is ordered before
 *       {@code C} in the word's modification order: {@code C} reads the bit, and since {@code S}
 *       and {@code C} are volatile, {@code W} happens-before {@code S} synchronizes-with
 *       {@code C} happens-before {@code D}: the copy sees the data. Or {@code S} is after
 *       {@code C}: the bit is set for the next harvest.</li>
 *   <li>The writer sees the bit already set and skips the atomic (the hot case: a page written
 *       again before the next harvest; a shared read keeps the cache line from bouncing between
 *       vCPUs). If {@code R} read a value written after {@code C} (someone re-marked), the bit
 *       is set for the next harvest. If {@code R} read a value from before {@code C}, this is
 *       the store-buffering (Dekker) shape {@code W; F1; R} against {@code C; F2; D} with
 *       {@code R} reading before {@code C}: with a full fence on both sides the outcome
 *       "{@code R} misses {@code C} and {@code D} misses {@code W}" is forbidden, so {@code D}
 *       sees {@code W}. Without {@code F1} the data store could still sit in the writer's store
 *       buffer when the copy runs, and the page would be lost; that is why {@link #markDirty}
 *       fences even when it skips the atomic.</li>
 * </ol>
 * {@code F2} is one fence per {@link #harvest} call, at its end; {@code C} is itself a volatile
 * exchange, and the fence makes the argument independent of how a platform implements it.
 * The harvester also skips the exchange for a word it reads as zero: no bit in it was set
 * before that read, so nothing is lost, and any later bit stays for the next harvest.
 *
 * <p>No method allocates. The harvested bitmap is a plain {@code long[]} owned by the caller.
 */
public final class DirtyLog {

    /** Atomic access to the words of {@link #words}. */
    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);

    private static final int WORD_SHIFT = 6;

    private final long pages;
    private final long[] words;

    /** A log for {@code pages} pages, all clean. */
    public DirtyLog(long pages) {
        if (pages < 0 || wordsFor(pages) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("dirty log pages must be 0.." + ((long) (Integer.MAX_VALUE - 8) << WORD_SHIFT)
                    + ", got " + pages);
        }
        this.pages = pages;
        this.words = new long[(int) wordsFor(pages)];
    }

    /** The number of {@code long} words a bitmap of {@code pages} bits needs: the size of a harvest bitmap. */
    public static long wordsFor(long pages) {
        return (pages + 63) >>> WORD_SHIFT;
    }

    /** Number of pages covered. */
    public long pages() {
        return pages;
    }

    /**
     * Marks {@code page} dirty. Call after the page's data is written (see the class comment).
     *
     * @throws IndexOutOfBoundsException when {@code page} is not in {@code 0..pages()-1}
     */
    public void markDirty(long page) {
        Objects.checkIndex(page, pages);
        int index = (int) (page >>> WORD_SHIFT);
        long bit = 1L << page; // shift count is taken mod 64
        VarHandle.fullFence(); // F1: order the data write before the read of the word
        if (((long) WORDS.getOpaque(words, index) & bit) == 0) {
            WORDS.getAndBitwiseOr(words, index, bit);
        }
    }

    /**
     * Marks pages {@code firstPage .. firstPage+count-1} dirty, after their data is written.
     *
     * @throws IndexOutOfBoundsException when the range is not inside {@code 0..pages()-1}
     */
    public void markRange(long firstPage, long count) {
        Objects.checkFromIndexSize(firstPage, count, pages);
        if (count == 0) {
            return;
        }
        VarHandle.fullFence(); // F1 for every page of the range
        long end = firstPage + count; // exclusive
        int first = (int) (firstPage >>> WORD_SHIFT);
        int last = (int) ((end - 1) >>> WORD_SHIFT);
        for (int i = first; i <= last; i++) {
            long mask = -1L;
            if (i == first) {
                mask &= -1L << firstPage;
            }
            if (i == last) {
                mask &= -1L >>> (63 - ((end - 1) & 63));
            }
            if (((long) WORDS.getOpaque(words, i) & mask) != mask) {
                WORDS.getAndBitwiseOr(words, i, mask);
            }
        }
    }

    /**
     * Takes every dirty bit out of the log, clearing it, and ORs it into {@code migrationBitmap}
     * (bit {@code p} of word {@code p >>> 6}). Copy the pages only after this returns.
     *
     * @param migrationBitmap at least {@link #wordsFor wordsFor(pages())} words, owned by the caller
     * @return how many of the harvested bits were not already set in {@code migrationBitmap}
     */
    public long harvest(long[] migrationBitmap) {
        if (migrationBitmap.length < words.length) {
            throw new IllegalArgumentException("migration bitmap must have at least " + words.length
                    + " words for " + pages + " pages, got " + migrationBitmap.length);
        }
        long fresh = 0;
        for (int i = 0; i < words.length; i++) {
            if ((long) WORDS.getOpaque(words, i) == 0) {
                continue;
            }
            long bits = (long) WORDS.getAndSet(words, i, 0L); // C
            long old = migrationBitmap[i];
            fresh += Long.bitCount(bits & ~old);
            migrationBitmap[i] = old | bits;
        }
        VarHandle.fullFence(); // F2: the caller's page copies come after every exchange
        return fresh;
    }

    /** Whether {@code page} is dirty right now (racy). */
    public boolean isDirty(long page) {
        Objects.checkIndex(page, pages);
        return ((long) WORDS.getOpaque(words, (int) (page >>> WORD_SHIFT)) & (1L << page)) != 0;
    }

    /** Number of dirty pages: a racy snapshot while writers run. */
    public long countDirty() {
        long n = 0;
        for (int i = 0; i < words.length; i++) {
            n += Long.bitCount((long) WORDS.getOpaque(words, i));
        }
        return n;
    }

    /** Clears every bit (e.g. when dirty logging starts). Bits set concurrently may survive. */
    public void clear() {
        for (int i = 0; i < words.length; i++) {
            WORDS.setVolatile(words, i, 0L);
        }
    }
}
