package io.livemig.stream;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * Reusable {@link ByteBuffer} views of native memory (guest RAM), one per slot of a gathering
 * write, so that {@link MigrationOutput} can hand pages to {@code writev} without copying them
 * and without allocating per page.
 *
 * <p>How. A {@code ByteBuffer} addresses at most 2 GiB, so a segment is seen through windows of
 * {@value #WINDOW_BITS}-bit size, aligned to their size; the last window seen is cached (pages
 * come block by block, in address order). Slot {@code i} keeps a duplicate of the window it last
 * served and only moves that duplicate's position and limit, so in steady state a page costs two
 * field writes; a new duplicate is made only when a slot's window changes (a new block or the
 * next gigabyte), a few hundred objects per gigabyte at most.
 *
 * <p>Threading: one owner, as {@link MigrationOutput}.
 */
final class SegmentViews {

    static final int WINDOW_BITS = 30;
    private static final long WINDOW = 1L << WINDOW_BITS;

    private final ByteBuffer[] views;
    private final ByteBuffer[] viewWindow;
    private MemorySegment segment;
    private long windowIndex = -1;
    private long windowBase;
    private ByteBuffer window;

    SegmentViews(int slots) {
        views = new ByteBuffer[slots];
        viewWindow = new ByteBuffer[slots];
    }

    /**
     * Whether {@code len} bytes at {@code offset} of {@code seg} can be viewed: native memory,
     * within one window.
     */
    static boolean viewable(MemorySegment seg, long offset, int len) {
        return seg.isNative() && (offset >>> WINDOW_BITS) == ((offset + len - 1) >>> WINDOW_BITS);
    }

    /** Slot {@code slot}'s view, positioned on {@code [offset, offset + len)} of {@code seg} (which must be {@link #viewable}). */
    ByteBuffer view(int slot, MemorySegment seg, long offset, int len) {
        long index = offset >>> WINDOW_BITS;
        if (seg != segment || index != windowIndex) {
            segment = seg;
            windowIndex = index;
            windowBase = index << WINDOW_BITS;
            window = seg.asSlice(windowBase, Math.min(WINDOW, seg.byteSize() - windowBase)).asByteBuffer();
        }
        ByteBuffer v = views[slot];
        if (viewWindow[slot] != window) {
            v = window.duplicate();
            views[slot] = v;
            viewWindow[slot] = window;
        }
        int at = (int) (offset - windowBase);
        v.clear().limit(at + len).position(at);
        return v;
    }

    /** Drops every view (the memory may go away after the stream). */
    void clear() {
        java.util.Arrays.fill(views, null);
        java.util.Arrays.fill(viewWindow, null);
        segment = null;
        window = null;
        windowIndex = -1;
    }
}
