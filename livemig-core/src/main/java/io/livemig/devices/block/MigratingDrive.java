package io.livemig.devices.block;

import io.livemig.guest.DirtyLog;
import io.livemig.guest.PageSize;
import io.livemig.guest.RamBlock;
import io.livemig.stream.MigrationOutput;

import java.nio.charset.StandardCharsets;

import static io.livemig.devices.block.BlockRecordDescriptor.BLOCK_SIZE;
import static io.livemig.devices.block.BlockRecordDescriptor.SECTORS_PER_CHUNK;
import static io.livemig.devices.block.BlockRecordDescriptor.SECTOR_BITS;

/**
 * The source's state for one drive during a block migration: QEMU's {@code BlkMigDevState}.
 *
 * <p>Dirty tracking. QEMU gives each drive a dirty bitmap of 1 MiB granularity that the block
 * layer sets on every write. Here a drive is a mapped {@link RamBlock} whose writers set bits in
 * its 4 KiB {@link DirtyLog}; {@link #sync()} harvests the log and folds every 256 pages (four
 * words) into one chunk bit of {@link #chunkBits}. A chunk's bit is cleared before the chunk is
 * copied, so a write that races the copy either lands before it (and is copied) or sets its page
 * bit after the harvest that preceded the copy (and the chunk is sent again after a later sync):
 * the argument of {@link DirtyLog}, one level coarser.
 *
 * <p>Cursors, in 512-byte sectors as in QEMU: {@code curSector} is the bulk phase's next chunk;
 * {@code completedSectors} the bulk position the progress percentage counts;
 * {@code curDirty} the dirty phase's scan position, reset at the start of each iterate.
 *
 * <p>Threading: the migration thread alone.
 */
final class MigratingDrive {

    /** 4 KiB pages per 1 MiB chunk: 256, i.e. four words of the harvested page bitmap. */
    private static final int WORDS_PER_CHUNK = (BLOCK_SIZE >> PageSize.TARGET_PAGE_BITS) / Long.SIZE;

    final DriveImage drive;
    final byte[] name;
    final long totalSectors;
    private final long chunks;
    private final long[] pageBits;
    private final long[] chunkBits;
    private long dirtyChunks;

    long curSector;
    long completedSectors;
    boolean bulkCompleted;
    long curDirty;

    MigratingDrive(DriveImage drive) {
        this.drive = drive;
        this.name = drive.id().getBytes(StandardCharsets.UTF_8);
        this.totalSectors = drive.size() >> SECTOR_BITS;
        this.chunks = (totalSectors + SECTORS_PER_CHUNK - 1) / SECTORS_PER_CHUNK;
        this.pageBits = new long[(int) DirtyLog.wordsFor(drive.block().pages())];
        this.chunkBits = new long[(int) DirtyLog.wordsFor(chunks)];
    }

    /** QEMU's {@code set_dirty_tracking}: a clean chunk bitmap; writes before now are the bulk phase's. */
    void startTracking() {
        drive.block().dirtyLog().harvest(pageBits);
        java.util.Arrays.fill(pageBits, 0L);
        java.util.Arrays.fill(chunkBits, 0L);
        dirtyChunks = 0;
    }

    /** Moves the drive's dirty log into the chunk bitmap; returns the chunks that became dirty. */
    long sync() {
        drive.block().dirtyLog().harvest(pageBits);
        long fresh = 0;
        for (int i = 0; i < pageBits.length; i++) {
            if (pageBits[i] != 0) {
                pageBits[i] = 0;
                long chunk = i / WORDS_PER_CHUNK;
                int w = (int) (chunk >>> 6);
                long bit = 1L << chunk;
                if ((chunkBits[w] & bit) == 0) {
                    chunkBits[w] |= bit;
                    fresh++;
                }
            }
        }
        dirtyChunks += fresh;
        return fresh;
    }

    long dirtyChunks() {
        return dirtyChunks;
    }

    /** The first dirty chunk at or after {@code chunk}, or -1. */
    long nextDirtyChunk(long chunk) {
        if (dirtyChunks == 0 || chunk >= chunks) {
            return -1;
        }
        int w = (int) (chunk >>> 6);
        long word = chunkBits[w] & (-1L << chunk);
        while (true) {
            if (word != 0) {
                long c = ((long) w << 6) + Long.numberOfTrailingZeros(word);
                return c < chunks ? c : -1;
            }
            if (++w >= chunkBits.length) {
                return -1;
            }
            word = chunkBits[w];
        }
    }

    /** Clears the dirty bit of the chunk holding {@code sector} (QEMU's {@code bdrv_reset_dirty_bitmap}). */
    void resetDirty(long sector) {
        long chunk = sector / SECTORS_PER_CHUNK;
        int w = (int) (chunk >>> 6);
        long bit = 1L << chunk;
        if ((chunkBits[w] & bit) != 0) {
            chunkBits[w] &= ~bit;
            dirtyChunks--;
        }
    }

    /** Sectors in the chunk starting at {@code sector}: a full chunk except at the end of the device. */
    int sectorsAt(long sector) {
        return (int) Math.min(SECTORS_PER_CHUNK, totalSectors - sector);
    }

    /**
     * QEMU's {@code blk_send}: one DEVICE_BLOCK record for the chunk at {@code sector}, whose
     * dirty bit the caller has just cleared. A short last chunk is padded with zeros to
     * {@link BlockRecordDescriptor#BLOCK_SIZE}.
     */
    void send(MigrationOutput out, long sector, byte[] zeros) {
        int bytes = sectorsAt(sector) << SECTOR_BITS;
        out.putBe64(BlockRecordDescriptor.word(sector, BlockRecordDescriptor.FLAG_DEVICE_BLOCK));
        out.putU8(name.length);
        out.putBytes(name);
        out.putSegment(drive.block().segment(), sector << SECTOR_BITS, bytes);
        if (bytes < BLOCK_SIZE) {
            out.putBytes(zeros, 0, BLOCK_SIZE - bytes);
        }
    }
}
