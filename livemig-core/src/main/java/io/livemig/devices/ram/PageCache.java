package io.livemig.devices.ram;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The XBZRLE page cache (QEMU's migration/page_cache.c): the last sent copy of recently sent
 * pages, the "old page" XBZRLE encodes against.
 *
 * <p>Layout: {@code slots} (a power of two) page-sized slots in one preallocated segment; a page
 * at RAM address {@code a} can live only in slot {@code (a / page) & (slots - 1)}. Each slot keeps
 * the address it holds (-1 = empty) and an age: the dirty-sync count when it was last inserted or
 * hit. A page colliding with an occupied slot replaces it only if the occupant is older than
 * {@link #CACHED_PAGE_LIFETIME} syncs, so a page that changes often keeps its slot.
 *
 * <p>Addresses are RAM-wide (block base + offset), as QEMU's {@code ram_addr_t}.
 *
 * <p>Threading: the migration thread alone. Memory is allocated once at setup and released by
 * {@link #close()}; no allocation per page.
 */
final class PageCache implements AutoCloseable {

    /** A cached page is not replaced within this many syncs of its last use. */
    static final int CACHED_PAGE_LIFETIME = 2;

    private final int pageSize;
    private final int slots;
    private final long[] addr;
    private final long[] age;
    private final Arena arena;
    private final MemorySegment data;

    /** {@code cacheBytes / pageSize} must be a power of two (validated at the QMP edge). */
    PageCache(long cacheBytes, int pageSize) {
        long n = cacheBytes / pageSize;
        if (cacheBytes < pageSize || Long.bitCount(n) != 1 || n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("page cache of " + cacheBytes + " bytes: the number of "
                    + pageSize + "-byte pages must be a power of two");
        }
        this.pageSize = pageSize;
        this.slots = (int) n;
        this.addr = new long[slots];
        this.age = new long[slots];
        Arrays.fill(addr, -1L);
        this.arena = Arena.ofShared();
        this.data = arena.allocate(n * pageSize, pageSize);
    }

    int slots() {
        return slots;
    }

    private int slot(long address) {
        return (int) ((address / pageSize) & (slots - 1));
    }

    /** QEMU's {@code cache_is_cached}: true if {@code address} is held; a hit renews its age. */
    boolean isCached(long address, long currentAge) {
        int s = slot(address);
        if (addr[s] == address) {
            age[s] = currentAge;
            return true;
        }
        return false;
    }

    /** The cache segment and the offset of {@code address}'s slot in it (valid after a hit or insert). */
    MemorySegment data() {
        return data;
    }

    long offsetOf(long address) {
        return (long) slot(address) * pageSize;
    }

    /**
     * QEMU's {@code cache_insert}: copies a page from {@code src} into {@code address}'s slot unless
     * another page holds that slot and was used within {@link #CACHED_PAGE_LIFETIME} syncs.
     * Returns false when refused.
     */
    boolean insert(long address, MemorySegment src, long srcOffset, long currentAge) {
        int s = slot(address);
        if (!claim(s, address, currentAge)) {
            return false;
        }
        MemorySegment.copy(src, srcOffset, data, (long) s * pageSize, pageSize);
        return true;
    }

    /** As {@link #insert} with a page of zeros (QEMU's {@code xbzrle_cache_zero_page}). */
    boolean insertZero(long address, long currentAge) {
        int s = slot(address);
        if (!claim(s, address, currentAge)) {
            return false;
        }
        data.asSlice((long) s * pageSize, pageSize).fill((byte) 0);
        return true;
    }

    private boolean claim(int s, long address, long currentAge) {
        if (addr[s] != -1 && addr[s] != address && age[s] + CACHED_PAGE_LIFETIME > currentAge) {
            return false; // the occupant is fresh: keep it
        }
        addr[s] = address;
        age[s] = currentAge;
        return true;
    }

    @Override
    public void close() {
        arena.close();
    }
}
