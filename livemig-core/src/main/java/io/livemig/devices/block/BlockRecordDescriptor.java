package io.livemig.devices.block;

/**
 * Block migration records (section {@code block}, instance 0, version 1; QEMU 7.2's
 * {@code migration/block.c}, removed from QEMU in 9.1). Every record starts with a be64 word:
 * a 512-byte sector number shifted left by {@link #SECTOR_BITS}, with flags in the low 9 bits.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          sector (or percentage for PROGRESS), bits 63..9        |
 *  +                                                 +-+-+-+-+-+-+-+-+
 *  |                                                 |  flags (9 bits)|
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  DEVICE_BLOCK: | u8 len | len bytes device name (the -drive id) |
 *                | BLOCK_SIZE (1 MiB) bytes of data, unless ZERO_BLOCK |
 *  PROGRESS:     nothing more; the sector field is the bulk percentage 0..100
 *  EOS:          nothing more; ends every block section (START, PART, END)
 * </pre>
 *
 * A DEVICE_BLOCK record always carries a full {@link #BLOCK_SIZE} of data, also for the last
 * chunk of a device whose size is not a multiple of it: the source pads (QEMU sends whatever its
 * buffer held; livemig sends zeros) and the destination writes only the bytes that fit in the
 * device and skips the rest. ZERO_BLOCK is sent only with QEMU's {@code zero-blocks}
 * capability, which livemig does not have; the loader accepts it.
 */
public final class BlockRecordDescriptor {

    public static final String IDSTR = "block";
    public static final int INSTANCE_ID = 0;
    public static final int VERSION = 1;

    /** QEMU's {@code BDRV_SECTOR_BITS}: addresses are in 512-byte sectors. */
    public static final int SECTOR_BITS = 9;
    public static final int SECTOR_SIZE = 1 << SECTOR_BITS;
    /** QEMU's {@code BLK_MIG_BLOCK_SIZE}: the data of one DEVICE_BLOCK record and the dirty-tracking granularity. */
    public static final int BLOCK_SIZE = 1 << 20;
    /** QEMU's {@code BDRV_SECTORS_PER_DIRTY_CHUNK}. */
    public static final int SECTORS_PER_CHUNK = BLOCK_SIZE >> SECTOR_BITS;

    public static final int FLAG_DEVICE_BLOCK = 0x01;
    public static final int FLAG_EOS = 0x02;
    public static final int FLAG_PROGRESS = 0x04;
    public static final int FLAG_ZERO_BLOCK = 0x08;

    /** The flags live below the sector size. */
    public static final long FLAGS_MASK = SECTOR_SIZE - 1;

    private BlockRecordDescriptor() {
    }

    /** The address word of a record. */
    public static long word(long sector, int flags) {
        return (sector << SECTOR_BITS) | flags;
    }

    public static long sectorOf(long word) {
        return word >>> SECTOR_BITS;
    }

    public static int flagsOf(long word) {
        return (int) (word & FLAGS_MASK);
    }

    /** Bytes of a DEVICE_BLOCK record (without ZERO_BLOCK) for a device name of {@code nameBytes} bytes. */
    public static long deviceBlockLength(int nameBytes) {
        return 8 + 1 + nameBytes + (long) BLOCK_SIZE;
    }
}
