package io.livemig.guest;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The guest's RAM: an ordered list of {@link RamBlock}s with unique idstrs (QEMU's
 * {@code ram_list}). The order is the order blocks were added, which is the order the RAM
 * section lists them in its setup record.
 *
 * <p>Blocks are added while the machine is built; readers get an immutable snapshot
 * (copy-on-write), so the migration thread can iterate {@link #blocks()} without a lock.
 */
public final class GuestMemory implements AutoCloseable {

    private volatile List<RamBlock> blocks = List.of();

    /**
     * Adds {@code block} after the existing ones; the list takes ownership and closes it.
     *
     * @throws IllegalArgumentException when a block with the same idstr exists
     */
    public synchronized void add(RamBlock block) {
        Objects.requireNonNull(block, "block");
        if (find(block.idstr()) != null) {
            throw new IllegalArgumentException("duplicate RAM block id '" + block.idstr() + "'");
        }
        List<RamBlock> next = new ArrayList<>(blocks);
        next.add(block);
        blocks = List.copyOf(next);
    }

    /** The blocks in the order added (an immutable snapshot). */
    public List<RamBlock> blocks() {
        return blocks;
    }

    /** The block named {@code idstr}, or {@code null} when there is none. */
    public RamBlock find(String idstr) {
        for (RamBlock b : blocks) {
            if (b.idstr().equals(idstr)) {
                return b;
            }
        }
        return null;
    }

    /** Sum of the blocks' sizes in bytes. */
    public long totalBytes() {
        long total = 0;
        for (RamBlock b : blocks) {
            total += b.size();
        }
        return total;
    }

    /** Closes every block. */
    @Override
    public synchronized void close() {
        for (RamBlock b : blocks) {
            b.close();
        }
    }
}
