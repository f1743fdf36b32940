package io.livemig.guest;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A named block of guest RAM (QEMU's {@code RAMBlock}; {@link #idstr()} is the name the RAM
 * section puts on the wire) on one {@link MemorySegment}, with its {@link DirtyLog}.
 *
 * <p>Two kinds of access:
 * <ul>
 *   <li><b>guest writes</b> ({@link #writeLong}, {@link #write}, {@link #fill}) write the data
 *       first and then mark the pages in the dirty log, the order {@link DirtyLog} relies on;</li>
 *   <li><b>raw access</b> through {@link #segment()}: the migration engine reads pages to send
 *       them and the destination loads pages into them, without dirty marking; a loader marks
 *       what it writes in the {@link ReceivedMap} first ({@link #markReceived}), any other raw
 *       writer calls {@link #forgetKnownZero} (see {@link #knownZero}).</li>
 * </ul>
 * The segment is page aligned and its size a whole number of pages. Backings:
 * {@link #anonymous} ({@code memory-backend-ram}) and {@link #mappedFile}
 * ({@code memory-backend-file}; {@code share=on} maps the file shared, so outside tools see
 * and may fill guest RAM; {@code share=off} maps it copy-on-write and never changes the file).
 *
 * <p>{@link #close()} releases the memory; the block must not be used afterwards (accesses then
 * fail with {@link IllegalStateException}). Close it only when no thread uses it.
 */
public final class RamBlock implements AutoCloseable {

    /** QEMU puts the idstr on the wire behind a one-byte length. */
    static final int MAX_IDSTR_BYTES = 255;

    /** Atomic long access used by prealloc: a real write the JIT cannot drop. */
    private static final VarHandle LONG_AT = ValueLayout.JAVA_LONG.varHandle();

    private final String idstr;
    private final long size;
    private final Arena arena;
    private final MemorySegment segment;
    private final DirtyLog dirtyLog;
    private final ReceivedMap received;
    /** offset from which the block held zeros when it was made: 0 for anonymous RAM, the old end of a file */
    private final long zeroFrom;
    /** set once anything but a loader may have written the segment: no page is known zero after that */
    private volatile boolean written;
    private final AtomicBoolean closed = new AtomicBoolean();

    private RamBlock(String idstr, long size, Arena arena, MemorySegment segment, long zeroFrom) {
        this.idstr = idstr;
        this.size = size;
        this.arena = arena;
        this.segment = segment;
        this.dirtyLog = new DirtyLog(size >>> PageSize.TARGET_PAGE_BITS);
        this.received = new ReceivedMap(size >>> PageSize.TARGET_PAGE_BITS);
        this.zeroFrom = zeroFrom;
    }

    /**
     * Anonymous RAM ({@code -object memory-backend-ram,id=IDSTR,size=SIZE,prealloc=on|off}),
     * zero filled; a page takes memory once it is touched ({@link AnonymousMemory}).
     *
     * @param prealloc touch every page now, so the guest does not pay the first-write fault later
     */
    public static RamBlock anonymous(String idstr, long size, boolean prealloc) {
        checkArguments(idstr, size);
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment = AnonymousMemory.map(size, arena);
            RamBlock block = new RamBlock(idstr, size, arena, segment, 0);
            if (prealloc) {
                block.touchAllPages();
            }
            return block;
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * File-backed RAM ({@code -object memory-backend-file,id=IDSTR,size=SIZE,mem-path=PATH,share=on|off}).
     * The file is created if missing and extended to {@code size} if shorter (never truncated);
     * its first {@code size} bytes are the block's content.
     *
     * @param share    map shared ({@code MAP_SHARED}: guest writes reach the file) or private
     *                 (copy-on-write: the file is left unchanged)
     * @param prealloc touch every page now (reading and writing back each page's content)
     * @throws IOException when the file cannot be opened, extended or mapped
     */
    public static RamBlock mappedFile(String idstr, long size, Path path, boolean share, boolean prealloc)
            throws IOException {
        checkArguments(idstr, size);
        Objects.requireNonNull(path, "path");
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment;
            long oldEnd;
            // The mapping outlives the channel: closing the arena unmaps it.
            try (FileChannel ch = FileChannel.open(path,
                    StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                oldEnd = Math.min(ch.size(), size);
                if (ch.size() < size) {
                    // Extend (sparse) by writing the last byte, which is zero in an extension.
                    ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
                }
                FileChannel.MapMode mode = share ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.PRIVATE;
                segment = ch.map(mode, 0, size, arena);
            }
            // the bytes past the file's old end are the zeros of the extension
            RamBlock block = new RamBlock(idstr, size, arena, segment, PageSize.alignUp(oldEnd));
            if (prealloc) {
                block.touchAllPages();
            }
            return block;
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static void checkArguments(String idstr, long size) {
        Objects.requireNonNull(idstr, "idstr");
        int idBytes = idstr.getBytes(StandardCharsets.UTF_8).length;
        if (idBytes == 0 || idBytes > MAX_IDSTR_BYTES) {
            throw new IllegalArgumentException("id of memory backend must be 1.." + MAX_IDSTR_BYTES
                    + " bytes, got " + idBytes + " ('" + idstr + "')");
        }
        if (size <= 0) {
            throw new IllegalArgumentException("size of memory backend '" + idstr + "' must be positive, got " + size);
        }
        if (!PageSize.isAligned(size)) {
            throw new IllegalArgumentException("size of memory backend '" + idstr + "' must be a multiple of "
                    + PageSize.TARGET_PAGE_SIZE + ", got " + size);
        }
    }

    /**
     * Writes each page once with its own content (an atomic add of zero to its first long), so
     * the OS backs it now; a file-backed block keeps its content. Not dirty-marked.
     */
    private void touchAllPages() {
        for (long off = 0; off < size; off += PageSize.TARGET_PAGE_SIZE) {
            long unused = (long) LONG_AT.getAndAdd(segment, off, 0L);
        }
    }

    /** The block's name on the wire (QEMU's {@code RAMBlock.idstr}). */
    public String idstr() {
        return idstr;
    }

    /** Size in bytes, a positive multiple of {@link PageSize#TARGET_PAGE_SIZE}. */
    public long size() {
        return size;
    }

    /** Number of pages. */
    public long pages() {
        return size >>> PageSize.TARGET_PAGE_BITS;
    }

    /** The whole block, for raw access without dirty marking (migration reads, destination loads). */
    public MemorySegment segment() {
        return segment;
    }

    /** The guest's write log of this block. */
    public DirtyLog dirtyLog() {
        return dirtyLog;
    }

    /** Guest write of one native-order long at any {@code offset}; marks the page(s) it touches dirty. */
    public void writeLong(long offset, long value) {
        Objects.checkFromIndexSize(offset, Long.BYTES, size);
        segment.set(ValueLayout.JAVA_LONG_UNALIGNED, offset, value);
        markBytes(offset, Long.BYTES);
    }

    /** Guest write of all of {@code src} at {@code offset}; marks the pages it touches dirty. */
    public void write(long offset, MemorySegment src) {
        long len = src.byteSize();
        Objects.checkFromIndexSize(offset, len, size);
        MemorySegment.copy(src, 0, segment, offset, len);
        markBytes(offset, len);
    }

    /** Guest write of {@code len} bytes of {@code value} at {@code offset}; marks the pages dirty. */
    public void fill(long offset, long len, byte value) {
        Objects.checkFromIndexSize(offset, len, size);
        segment.asSlice(offset, len).fill(value);
        markBytes(offset, len);
    }

    private void markBytes(long offset, long len) {
        if (!written) {
            written = true;
        }
        if (len == 0) {
            return;
        }
        long first = offset >>> PageSize.TARGET_PAGE_BITS;
        long last = (offset + len - 1) >>> PageSize.TARGET_PAGE_BITS;
        if (first == last) {
            dirtyLog.markDirty(first);
        } else {
            dirtyLog.markRange(first, last - first + 1);
        }
    }

    /**
     * Whether the page at {@code offset} is known to hold zeros without reading it: it lies where
     * the block was made zero (all of anonymous RAM, the extension of a file that was shorter
     * than the block), no guest write has happened since ({@link #writeLong} and the other guest
     * writes), nobody declared a raw write ({@link #forgetKnownZero}), and no incoming migration
     * wrote it ({@link #markReceived}). The destination skips ZERO records for such pages, as
     * QEMU 9's multifd does with its receivedmap; it spares reading 4 KiB per zero page.
     *
     * <p>Assumes that nothing outside this process writes a shared file mapping while it is the
     * destination of a migration.
     */
    public boolean knownZero(long offset) {
        return offset >= zeroFrom && !written && !received.test(offset >>> PageSize.TARGET_PAGE_BITS);
    }

    /**
     * An incoming migration is about to write {@code len} bytes at {@code offset} (whole or part
     * pages); called before the write, so a write cut short still counts.
     */
    public void markReceived(long offset, long len) {
        if (len > 0) {
            long first = offset >>> PageSize.TARGET_PAGE_BITS;
            received.setRange(first, ((offset + len - 1) >>> PageSize.TARGET_PAGE_BITS) - first + 1);
        }
    }

    /**
     * Declares a write through {@link #segment()} by anything but an incoming migration (a test
     * that fills guest RAM, the warm-up): from now on no page is known zero.
     */
    public void forgetKnownZero() {
        written = true;
    }

    /** Releases the memory (unmaps a file-backed block). Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "RamBlock[" + idstr + ", " + size + " bytes]";
    }
}
