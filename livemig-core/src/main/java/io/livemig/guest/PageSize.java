package io.livemig.guest;

/**
 * The target page geometry: 4 KiB pages, as QEMU's {@code TARGET_PAGE_BITS} on x86.
 * Dirty tracking, RAM block sizes and the RAM section's page records all use this unit.
 */
public final class PageSize {

    /** log2 of the page size. */
    public static final int TARGET_PAGE_BITS = 12;

    /** Bytes per page. */
    public static final int TARGET_PAGE_SIZE = 1 << TARGET_PAGE_BITS;

    /** Clears the in-page bits of an address: {@code addr & TARGET_PAGE_MASK} is the page start. */
    public static final long TARGET_PAGE_MASK = ~((long) TARGET_PAGE_SIZE - 1);

    private PageSize() {
    }

    /** The page that holds byte {@code offset}. */
    public static long pageOf(long offset) {
        return offset >>> TARGET_PAGE_BITS;
    }

    /** The byte offset where page {@code page} starts. */
    public static long offsetOf(long page) {
        return page << TARGET_PAGE_BITS;
    }

    /** Whether {@code bytes} is a whole number of pages (zero included). */
    public static boolean isAligned(long bytes) {
        return (bytes & ~TARGET_PAGE_MASK) == 0;
    }

    /** {@code bytes} rounded up to a whole number of target pages. */
    public static long alignUp(long bytes) {
        return (bytes + TARGET_PAGE_SIZE - 1) & TARGET_PAGE_MASK;
    }
}
