package io.livemig.devices.ram;

import io.livemig.guest.RamBlock;

/**
 * The RAM saver's dirty bitmap for one block (QEMU's {@code RAMBlock.bmap}): one bit per target
 * page, set = must be sent. Owned by the migration thread alone, so plain {@code long[]} access;
 * the guest's concurrent writes land in the block's dirty log and reach this bitmap only through
 * {@link #sync()}.
 */
final class MigrationBitmap {

    final RamBlock block;
    final long[] bits;
    final long pages;

    MigrationBitmap(RamBlock block) {
        this.block = block;
        this.pages = block.pages();
        this.bits = new long[(int) ((pages + 63) >>> 6)];
    }

    /** Marks every page dirty (the initial state of a migration); returns the page count. */
    long setAll() {
        java.util.Arrays.fill(bits, -1L);
        int tail = (int) (pages & 63);
        if (tail != 0) {
            bits[bits.length - 1] = (1L << tail) - 1;
        }
        return pages;
    }

    /** Moves the block's dirty log into this bitmap; returns the pages that became dirty. */
    long sync() {
        return block.dirtyLog().harvest(bits);
    }

    /** The first dirty page at or after {@code from}, or -1. */
    long nextDirty(long from) {
        if (from >= pages) {
            return -1;
        }
        int w = (int) (from >>> 6);
        long word = bits[w] & (-1L << (from & 63));
        while (true) {
            if (word != 0) {
                long page = ((long) w << 6) + Long.numberOfTrailingZeros(word);
                return page < pages ? page : -1;
            }
            if (++w >= bits.length) {
                return -1;
            }
            word = bits[w];
        }
    }

    void clear(long page) {
        bits[(int) (page >>> 6)] &= ~(1L << (page & 63));
    }
}
