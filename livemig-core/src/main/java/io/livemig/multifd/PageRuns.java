package io.livemig.multifd;

import io.livemig.guest.PageSize;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The zero-copy payload of an uncompressed multifd packet, on both sides: views of guest RAM, one
 * per run of consecutive page offsets (QEMU's one iovec per page, merged), for the sender's
 * gathering write and the receiver's scattering read. A first-pass packet is one run of 128
 * pages, so the cost is one small view object per 512 KiB, nothing per page.
 */
final class PageRuns {

    private static final int PAGE = PageSize.TARGET_PAGE_SIZE;

    private PageRuns() {
    }

    /**
     * Puts the views of the {@code count} pages at {@code offsets[0..count)} of {@code seg}
     * into {@code into} from index {@code from}; returns the index after the last view. The
     * offsets were checked against the block by the caller.
     */
    static int views(MemorySegment seg, long[] offsets, int count, ByteBuffer[] into, int from) {
        int n = from;
        int i = 0;
        while (i < count) {
            long start = offsets[i];
            int j = i + 1;
            while (j < count && offsets[j] == start + (long) (j - i) * PAGE) {
                j++;
            }
            into[n++] = seg.asSlice(start, (long) (j - i) * PAGE).asByteBuffer();
            i = j;
        }
        return n;
    }
}
