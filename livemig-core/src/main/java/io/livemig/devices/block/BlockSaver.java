package io.livemig.devices.block;

import io.livemig.savevm.RateLimit;
import io.livemig.savevm.SaveStateHandler;
import io.livemig.stream.MigrationOutput;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.livemig.devices.block.BlockRecordDescriptor.BLOCK_SIZE;
import static io.livemig.devices.block.BlockRecordDescriptor.FLAG_EOS;
import static io.livemig.devices.block.BlockRecordDescriptor.FLAG_PROGRESS;
import static io.livemig.devices.block.BlockRecordDescriptor.SECTOR_BITS;

/**
 * The source half of block migration: QEMU 7.2's {@code BlkMigState} with
 * {@code block_save_setup/iterate/complete/pending}.
 *
 * <p>Algorithm, as QEMU's:
 * <ol>
 *   <li><b>Setup</b> ({@code block_save_setup}): dirty tracking starts on every drive at 1 MiB
 *       granularity; the START payload is a lone EOS.</li>
 *   <li><b>Bulk phase</b> ({@code blk_mig_save_bulked_block}): the drives in order, each from
 *       sector 0 to its end, one 1 MiB chunk per step; a chunk's dirty bit is cleared before it
 *       is copied. A PROGRESS record (percentage of all sectors before the current chunk) is
 *       written whenever that percentage changes. One step more after the last chunk marks the
 *       whole bulk phase complete.</li>
 *   <li><b>Dirty phase</b> ({@code blk_mig_save_dirty_block}): per step, the next dirty chunk from
 *       a cursor that walks the drives once per iterate call.</li>
 *   <li>An iterate call ({@code block_save_iterate}) syncs the dirty logs, then takes steps until
 *       the rate limit is exceeded (checked between chunks), the dirty walk reaches the end, or
 *       {@link #MAX_WAIT_NANOS} has passed (QEMU bounds a call by its in-flight I/O instead);
 *       every PART payload ends with EOS.</li>
 *   <li><b>Complete</b> ({@code block_save_complete}, guest stopped): a final sync, whatever bulk
 *       is left (QEMU asserts there is none: its pending report prevents it), every dirty chunk,
 *       PROGRESS 100, EOS.</li>
 * </ol>
 * Reads are synchronous copies from the mapped image (QEMU reads asynchronously, up to 16 in
 * flight); nothing is ever in flight between calls, so pending is remaining bulk plus dirty.
 *
 * <p>Threading: the migration thread alone; the guest only sets bits in the drives' dirty logs.
 */
final class BlockSaver {

    /** Bound on one iterate call, as RAM's {@code MAX_WAIT}, so other devices get their turn. */
    static final long MAX_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final List<MigratingDrive> drives;
    private final long totalSectorSum;
    /** padding for the short last chunk of a drive; never written */
    private final byte[] zeros = new byte[BLOCK_SIZE];
    private int prevProgress = -1;
    private boolean bulkCompleted;
    private long transferred;

    BlockSaver(List<DriveImage> images) {
        this.drives = images.stream().map(MigratingDrive::new).toList();
        this.totalSectorSum = drives.stream().mapToLong(d -> d.totalSectors).sum();
    }

    /** START payload: dirty tracking on, EOS. */
    void setup(MigrationOutput out) {
        for (MigratingDrive d : drives) {
            d.startTracking();
        }
        out.putBe64(FLAG_EOS);
    }

    /** One PART payload; {@link SaveStateHandler#ITERATE_FINISHED} once bulk is done and nothing is dirty. */
    int iterate(MigrationOutput out, RateLimit limit) {
        long start = System.nanoTime();
        sync();
        resetDirtyCursors();
        while (!limit.exceeded() && !out.hasError()) {
            if (!bulkCompleted) {
                if (!saveBulkedBlock(out)) {
                    bulkCompleted = true;
                }
            } else if (!saveDirtyBlock(out)) {
                break;
            }
            if (System.nanoTime() - start > MAX_WAIT_NANOS) {
                break;
            }
        }
        out.putBe64(FLAG_EOS);
        return bulkCompleted && dirtyChunks() == 0 ? SaveStateHandler.ITERATE_FINISHED : SaveStateHandler.ITERATE_MORE;
    }

    /** END payload: everything left regardless of the budget, PROGRESS 100, EOS. */
    void complete(MigrationOutput out) {
        sync();
        while (!bulkCompleted && !out.hasError()) {
            if (!saveBulkedBlock(out)) {
                bulkCompleted = true;
            }
        }
        resetDirtyCursors();
        while (!out.hasError() && saveDirtyBlock(out)) {
            // one dirty chunk per step
        }
        out.putBe64(BlockRecordDescriptor.word(100, FLAG_PROGRESS));
        out.putBe64(FLAG_EOS);
    }

    /**
     * QEMU's {@code block_save_pending}: remaining bulk plus dirty chunks; while the bulk phase
     * runs, never at or below {@code thresholdBytes}, so the migration cannot converge before
     * every chunk has been sent once.
     */
    long pending(long thresholdBytes) {
        long pending = dirtyChunks() * BLOCK_SIZE;
        for (MigratingDrive d : drives) {
            if (!d.bulkCompleted) {
                pending += (d.totalSectors - d.curSector) << SECTOR_BITS;
            }
        }
        if (!bulkCompleted && pending <= thresholdBytes) {
            pending = thresholdBytes + BLOCK_SIZE;
        }
        return pending;
    }

    /** Harvests every drive's dirty log into its chunk bitmap. */
    void sync() {
        for (MigratingDrive d : drives) {
            d.sync();
        }
    }

    boolean bulkCompleted() {
        return bulkCompleted;
    }

    /** Bytes of drive data sent so far (chunks × 1 MiB), QEMU's {@code blk_mig_bytes_transferred} in spirit. */
    long transferred() {
        return transferred;
    }

    long totalBytes() {
        return totalSectorSum << SECTOR_BITS;
    }

    private long dirtyChunks() {
        long n = 0;
        for (MigratingDrive d : drives) {
            n += d.dirtyChunks();
        }
        return n;
    }

    /**
     * QEMU's {@code blk_mig_save_bulked_block}: the next bulk chunk of the first drive whose bulk
     * is not done, preceded by a PROGRESS record when the percentage changed.
     *
     * @return false when every drive's bulk phase was already complete
     */
    private boolean saveBulkedBlock(MigrationOutput out) {
        long completedSum = 0;
        MigratingDrive next = null;
        for (MigratingDrive d : drives) {
            if (!d.bulkCompleted) {
                d.completedSectors = d.curSector;
                completedSum += d.completedSectors;
                next = d;
                break;
            }
            completedSum += d.completedSectors;
        }
        int progress = totalSectorSum == 0 ? 100 : (int) (completedSum * 100 / totalSectorSum);
        if (progress != prevProgress) {
            prevProgress = progress;
            out.putBe64(BlockRecordDescriptor.word(progress, FLAG_PROGRESS));
        }
        if (next == null) {
            return false;
        }
        saveDeviceBulk(out, next);
        return true;
    }

    /** QEMU's {@code mig_save_device_bulk}, with a synchronous read. */
    private void saveDeviceBulk(MigrationOutput out, MigratingDrive d) {
        long sector = d.curSector;
        int sectors = d.sectorsAt(sector);
        d.resetDirty(sector);
        d.send(out, sector, zeros);
        transferred += BLOCK_SIZE;
        d.curSector = sector + sectors;
        if (d.curSector >= d.totalSectors) {
            d.bulkCompleted = true;
        }
    }

    private void resetDirtyCursors() {
        for (MigratingDrive d : drives) {
            d.curDirty = 0;
        }
    }

    /**
     * QEMU's {@code blk_mig_save_dirty_block} / {@code mig_save_device_dirty}: the next dirty
     * chunk at or after the cursor of the first drive whose walk has not reached its end.
     *
     * @return false when every drive's walk reached its end without finding a dirty chunk
     */
    private boolean saveDirtyBlock(MigrationOutput out) {
        for (MigratingDrive d : drives) {
            if (d.curDirty >= d.totalSectors) {
                continue;
            }
            long chunk = d.nextDirtyChunk(d.curDirty / BlockRecordDescriptor.SECTORS_PER_CHUNK);
            if (chunk < 0) {
                d.curDirty = d.totalSectors;
                continue;
            }
            long sector = chunk * BlockRecordDescriptor.SECTORS_PER_CHUNK;
            d.resetDirty(sector);
            d.send(out, sector, zeros);
            transferred += BLOCK_SIZE;
            d.curDirty = sector + d.sectorsAt(sector);
            return true;
        }
        return false;
    }
}
