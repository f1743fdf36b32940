package io.livemig.devices.ram;

import io.livemig.guest.PageSize;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The source's XBZRLE step for one page (QEMU's {@code save_xbzrle_page}): decides whether a dirty
 * page goes as an XBZRLE record, as nothing (unchanged), or as a normal page, and keeps the
 * {@link PageCache} equal to what the destination holds.
 *
 * <p>Rules, all QEMU's:
 * <ul>
 *   <li>Cache miss: counted; the page is inserted (not in the last stage) and sent as a normal
 *       page <em>from the cache copy</em>, so the bytes sent are the bytes cached even if the
 *       guest writes the page meanwhile.</li>
 *   <li>Hit: counted in {@code pages}. The page is first copied to a scratch page (the guest may
 *       be writing it), then encoded against the cached copy. Unless the encoding is empty or this
 *       is the last stage, the cache takes the scratch copy.</li>
 *   <li>Length 0: nothing is sent. Overflow: counted, {@code bytes += page size}, sent as a normal
 *       page from the (updated) cache copy.</li>
 * </ul>
 *
 * <p>Memory: the cache, the scratch page and the encode buffer are allocated here, once, at
 * migration setup. Threading: the migration thread alone; the counters are read by the RAM saver
 * on the same thread and published from there.
 */
final class XbzrleSaver implements AutoCloseable {

    /** {@link #prepare} result: identical page, send nothing. */
    static final int SKIPPED = 0;
    /** {@link #prepare} result: send an XBZRLE record of {@link #encoded()}[0, {@link #encodedLength()}). */
    static final int ENCODED = 1;
    /** {@link #prepare} result: send a normal page from {@link #normalSource()} at {@link #normalOffset()}. */
    static final int NORMAL = -1;

    private static final int PAGE = PageSize.TARGET_PAGE_SIZE;

    private final PageCache cache;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment current = arena.allocate(PAGE, PAGE);
    private final byte[] encoded = new byte[PAGE];
    private int encodedLength;
    private MemorySegment normalSource;
    private long normalOffset;

    // cumulative counters (QEMU's xbzrle_counters)
    long pages;
    long bytes;
    long cacheMiss;
    long overflow;

    XbzrleSaver(long cacheBytes) {
        this.cache = new PageCache(cacheBytes, PAGE);
    }

    /**
     * Runs the XBZRLE step for the page at {@code page[offset]}, RAM address {@code ramAddr}.
     * {@code age} is the dirty-sync count.
     */
    int prepare(MemorySegment page, long offset, long ramAddr, long age, boolean lastStage) {
        if (!cache.isCached(ramAddr, age)) {
            cacheMiss++;
            if (!lastStage && cache.insert(ramAddr, page, offset, age)) {
                normalSource = cache.data();
                normalOffset = cache.offsetOf(ramAddr);
            } else {
                normalSource = page;
                normalOffset = offset;
            }
            return NORMAL;
        }
        pages++; // a hit counts whatever the outcome (QEMU: encoding-rate includes skipped pages)
        long slot = cache.offsetOf(ramAddr);
        MemorySegment.copy(page, offset, current, 0, PAGE);
        int len = XbzrleEncoder.encode(cache.data(), slot, current, 0, PAGE, encoded, PAGE);
        if (!lastStage && len != 0) {
            MemorySegment.copy(current, 0, cache.data(), slot, PAGE);
            normalSource = cache.data();
            normalOffset = slot;
        } else {
            normalSource = current;
            normalOffset = 0;
        }
        if (len == 0) {
            return SKIPPED;
        }
        if (len == XbzrleEncoder.OVERFLOW) {
            overflow++;
            bytes += PAGE;
            return NORMAL;
        }
        encodedLength = len;
        return ENCODED;
    }

    /** A zero page was sent: the cache must hold zeros for it too, or a later hit would encode against stale bytes. */
    void zeroPageSent(long ramAddr, long age) {
        cache.insertZero(ramAddr, age);
    }

    byte[] encoded() {
        return encoded;
    }

    int encodedLength() {
        return encodedLength;
    }

    MemorySegment normalSource() {
        return normalSource;
    }

    long normalOffset() {
        return normalOffset;
    }

    @Override
    public void close() {
        cache.close();
        arena.close();
    }
}
