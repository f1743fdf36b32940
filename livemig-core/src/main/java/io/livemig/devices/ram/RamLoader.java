package io.livemig.devices.ram;

import io.livemig.guest.GuestMemory;
import io.livemig.guest.PageSize;
import io.livemig.guest.RamBlock;
import io.livemig.multifd.MultifdRecvGroup;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.SectionType;
import io.livemig.stream.StreamException;

import java.io.IOException;

/**
 * The destination half of RAM migration (QEMU's {@code ram_load_precopy}). The stream is
 * untrusted: every block name, size and page offset is checked against the local guest before
 * any byte is written, and the errors name the block and the value.
 *
 * <p>Pages are copied from the stream buffer straight into guest memory. A ZERO record leaves an
 * already-zero page untouched, so untouched memory stays unallocated, and does not even read a
 * page the guest is known to hold zeros in ({@link RamBlock#knownZero}).
 *
 * <p>Threading: the incoming migration thread alone. The "previous block" used by CONTINUE is
 * kept across sections, as the source keeps it per channel.
 */
final class RamLoader {

    private static final int PAGE = PageSize.TARGET_PAGE_SIZE;

    private final GuestMemory memory;
    /** an XBZRLE record's encoded bytes (QEMU's {@code XBZRLE.decoded_buf}) */
    private final byte[] encoded = new byte[PAGE];
    private RamBlock lastBlock;
    /** the multifd receivers, or null without multifd */
    private final MultifdRecvGroup multifd;

    RamLoader(GuestMemory memory) {
        this(memory, null);
    }

    RamLoader(GuestMemory memory, MultifdRecvGroup multifd) {
        this.memory = memory;
        this.multifd = multifd;
    }

    void load(MigrationInput in, int versionId, int sectionType) throws IOException {
        if (versionId != RamRecordDescriptor.VERSION) {
            throw new StreamException("ram: unsupported section version " + versionId + " (expected "
                    + RamRecordDescriptor.VERSION + ")");
        }
        while (true) {
            long word = in.getBe64();
            long addr = word & ~RamRecordDescriptor.FLAGS_MASK;
            int flags = (int) (word & RamRecordDescriptor.FLAGS_MASK);
            int kind = flags & ~RamRecordDescriptor.FLAG_CONTINUE;
            switch (kind) {
                case RamRecordDescriptor.FLAG_MEM_SIZE -> {
                    if (sectionType != SectionType.SECTION_START || flags != kind) {
                        throw new StreamException(String.format("ram: MEM_SIZE record (flags 0x%x) outside the setup section", flags));
                    }
                    loadBlockList(in, addr);
                }
                case RamRecordDescriptor.FLAG_ZERO -> {
                    RamBlock block = block(in, flags);
                    checkOffset(block, addr);
                    int fill = in.getU8();
                    if (fill != 0) {
                        throw new StreamException(String.format("ram: zero page at 0x%x of block '%s' has fill byte 0x%02x, must be 0",
                                addr, block.idstr(), fill));
                    }
                    ZeroPage.load(block, addr);
                }
                case RamRecordDescriptor.FLAG_PAGE -> {
                    RamBlock block = block(in, flags);
                    checkOffset(block, addr);
                    block.markReceived(addr, PAGE);
                    in.getSegment(block.segment(), addr, PAGE);
                }
                case RamRecordDescriptor.FLAG_XBZRLE -> {
                    RamBlock block = block(in, flags);
                    checkOffset(block, addr);
                    loadXbzrle(in, block, addr);
                }
                case RamRecordDescriptor.FLAG_MULTIFD_FLUSH -> {
                    if (flags != kind) {
                        throw new StreamException(String.format("ram: MULTIFD_FLUSH with flags 0x%x", flags));
                    }
                    if (multifd != null) {
                        // QEMU's multifd_recv_sync_main; without multifd QEMU ignores the record too
                        multifd.syncMain();
                    }
                }
                case RamRecordDescriptor.FLAG_EOS -> {
                    if (flags != kind) {
                        throw new StreamException(String.format("ram: EOS with flags 0x%x", flags));
                    }
                    return;
                }
                default -> throw new StreamException(String.format("Unknown combination of migration flags: 0x%x", flags));
            }
        }
    }

    /**
     * QEMU's {@code load_xbzrle}: the encoding is applied onto the page this guest holds, which
     * is the page the source's cache holds. No capability is needed on this side (as in QEMU).
     */
    private void loadXbzrle(MigrationInput in, RamBlock block, long addr) throws IOException {
        int encoding = in.getU8();
        int len = in.getBe16();
        if (encoding != RamRecordDescriptor.ENCODING_FLAG_XBZRLE) {
            throw new StreamException(String.format("Failed to load XBZRLE page at 0x%x of block '%s': "
                    + "wrong compression 0x%02x", addr, block.idstr(), encoding));
        }
        if (len > PAGE) {
            throw new StreamException(String.format("Failed to load XBZRLE page at 0x%x of block '%s': "
                    + "len overflow (%d > %d)", addr, block.idstr(), len, PAGE));
        }
        in.getBytes(encoded, 0, len);
        block.markReceived(addr, PAGE);
        if (XbzrleEncoder.decode(encoded, len, block.segment(), addr, PAGE) == XbzrleEncoder.BAD_ENCODING) {
            throw new StreamException(String.format("Failed to load XBZRLE page at 0x%x of block '%s': decode error",
                    addr, block.idstr()));
        }
    }

    /** The MEM_SIZE block list: names and sizes must match the local blocks and add up to {@code total}. */
    private void loadBlockList(MigrationInput in, long total) throws IOException {
        long left = total;
        while (left > 0) {
            String id = in.getStr8();
            long len = in.getBe64();
            RamBlock block = memory.find(id);
            if (block == null) {
                throw new StreamException("Unknown ramblock \"" + id + "\", cannot accept migration");
            }
            if (len != block.size()) {
                throw new StreamException(String.format("Length mismatch: %s: 0x%x in != 0x%x", id, len, block.size()));
            }
            left -= len;
            if (left < 0) {
                throw new StreamException(String.format("ram: block list exceeds the announced total of 0x%x bytes", total));
            }
        }
    }

    private RamBlock block(MigrationInput in, int flags) throws IOException {
        if ((flags & RamRecordDescriptor.FLAG_CONTINUE) != 0) {
            if (lastBlock == null) {
                throw new StreamException("ram: CONTINUE record without a previous block");
            }
            return lastBlock;
        }
        String id = in.getStr8();
        RamBlock block = memory.find(id);
        if (block == null) {
            throw new StreamException("Can't find block " + id);
        }
        lastBlock = block;
        return block;
    }

    private static void checkOffset(RamBlock block, long addr) throws StreamException {
        if (addr < 0 || addr > block.size() - PAGE) {
            throw new StreamException(String.format("Illegal RAM offset 0x%x in block '%s' (size 0x%x)",
                    addr, block.idstr(), block.size()));
        }
    }
}
