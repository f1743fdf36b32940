package io.livemig.devices.block;

import io.livemig.stream.MigrationInput;
import io.livemig.stream.StreamException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Map;

import static io.livemig.devices.block.BlockRecordDescriptor.BLOCK_SIZE;
import static io.livemig.devices.block.BlockRecordDescriptor.FLAG_DEVICE_BLOCK;
import static io.livemig.devices.block.BlockRecordDescriptor.FLAG_EOS;
import static io.livemig.devices.block.BlockRecordDescriptor.FLAG_PROGRESS;
import static io.livemig.devices.block.BlockRecordDescriptor.FLAG_ZERO_BLOCK;
import static io.livemig.devices.block.BlockRecordDescriptor.SECTORS_PER_CHUNK;
import static io.livemig.devices.block.BlockRecordDescriptor.SECTOR_BITS;

/**
 * The destination half of block migration: QEMU's {@code block_load}. Records are read until
 * EOS. A DEVICE_BLOCK record names its drive by id ("Error unknown block device NAME" otherwise)
 * and carries 1 MiB, of which the bytes that fit in the drive from the record's sector on are
 * written into the mapped image and the rest skipped (QEMU writes the whole 1 MiB and fails at a
 * drive end that is not 1 MiB aligned; livemig accepts such drives). A ZERO_BLOCK record
 * carries no data and zeroes the same span. PROGRESS is informational.
 *
 * <p>The stream is untrusted: the sector must lie inside the drive before a byte is written.
 * Writes go to the image's mapping without dirty marking, as RAM pages do.
 *
 * <p>Threading: the incoming migration thread alone.
 */
final class BlockLoader {

    private final Map<String, DriveImage> drives;

    BlockLoader(Map<String, DriveImage> drives) {
        this.drives = drives;
    }

    void load(MigrationInput in, int versionId) throws IOException {
        if (versionId != BlockRecordDescriptor.VERSION) {
            throw new StreamException("block: unsupported section version " + versionId + " (expected "
                    + BlockRecordDescriptor.VERSION + ")");
        }
        int flags;
        do {
            long word = in.getBe64();
            flags = BlockRecordDescriptor.flagsOf(word);
            long sector = BlockRecordDescriptor.sectorOf(word);
            if ((flags & FLAG_DEVICE_BLOCK) != 0) {
                loadDeviceBlock(in, sector, (flags & FLAG_ZERO_BLOCK) != 0);
            } else if ((flags & FLAG_PROGRESS) != 0) {
                if (sector > 100) {
                    throw new StreamException("block: progress " + sector + " % is not 0..100");
                }
            } else if ((flags & FLAG_EOS) == 0) {
                throw new StreamException(String.format("Unknown block migration flags: 0x%x", flags));
            }
        } while ((flags & FLAG_EOS) == 0);
    }

    private void loadDeviceBlock(MigrationInput in, long sector, boolean zero) throws IOException {
        String name = in.getStr8();
        DriveImage drive = drives.get(name);
        if (drive == null) {
            throw new StreamException("Error unknown block device " + name);
        }
        long totalSectors = drive.size() >> SECTOR_BITS;
        if (sector >= totalSectors) {
            throw new StreamException(String.format(
                    "block: sector %d (offset 0x%x) is beyond the end of device '%s' (%d sectors, 0x%x bytes)",
                    sector, sector << SECTOR_BITS, name, totalSectors, drive.size()));
        }
        long bytes = Math.min(SECTORS_PER_CHUNK, totalSectors - sector) << SECTOR_BITS;
        long offset = sector << SECTOR_BITS;
        MemorySegment image = drive.block().segment();
        if (zero) {
            image.asSlice(offset, bytes).fill((byte) 0);
            return;
        }
        in.getSegment(image, offset, bytes);
        in.skip(BLOCK_SIZE - bytes);
    }
}
