package io.livemig.multifd;

import io.livemig.channel.MigrationChannel;
import io.livemig.devices.ram.ZeroPage;
import io.livemig.guest.GuestMemory;
import io.livemig.guest.PageSize;
import io.livemig.guest.RamBlock;
import io.livemig.stream.StreamException;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.ScatteringByteChannel;
import java.util.concurrent.Semaphore;

/**
 * One multifd channel's receiver thread, QEMU's {@code multifd_recv_thread} with
 * {@code multifd_recv_unfill_packet} and the nocomp, zlib and zstd {@code recv} hooks.
 *
 * <p>Single owner: the thread owns its connection, its buffers (allocated once), the compression stream,
 * and the page writes of its packets. Steps per packet: {@link #readHeader}, {@link #checkHeader}
 * (every count, the block name and every offset are checked against the local guest before a byte
 * is written: the stream is untrusted), {@link #readPayload}, {@link #applyPages}. At a SYNC packet
 * it tells the group ({@link MultifdRecvGroup#syncReceived}) and blocks on {@link #release} until
 * the main stream's {@code MULTIFD_FLUSH} lets every channel go on. End of stream exactly at a packet
 * boundary is the normal end (the source closes its channels after the last sync).
 *
 * <p>Zero copy without compression: once the header is checked, the payload is read straight
 * into guest RAM, one view per run of consecutive pages ({@link PageRuns}; QEMU's nocomp receiver reads into the
 * pages' iovecs the same way). A stream that breaks off mid-payload leaves pages half written;
 * that is no harm, as the destination never starts a guest from a failed stream.
 */
final class MultifdReceiver implements Runnable {

    private static final int PAGE = PageSize.TARGET_PAGE_SIZE;

    final int id;
    final Semaphore release = new Semaphore(0);
    private final MigrationChannel channel;
    private final MultifdRecvGroup group;
    private final GuestMemory memory;
    private final MultifdCompression compression;
    /** zlib or zstd; null without compression */
    private final PacketCodec codec;
    private final ByteBuffer header = ByteBuffer.allocateDirect(MultifdPacketDescriptor.HEADER_LENGTH).order(ByteOrder.BIG_ENDIAN);
    /** the codec's output; null without compression */
    private final ByteBuffer pages;
    private final MemorySegment pagesSegment;
    private final ByteBuffer compressed;
    /** views of guest RAM, one per run of consecutive pages, for the payload's scattering read */
    private final ByteBuffer[] scatter = new ByteBuffer[MultifdPacketDescriptor.PAGES_PER_PACKET];
    /** the packet's page offsets, normal pages then zero pages, copied out of {@link #header} once */
    private final long[] offsets = new long[MultifdPacketDescriptor.PAGES_PER_PACKET];
    private RamBlock block;
    /** {@link #block}'s idstr as the header carries it, to keep the block while packets name the same one */
    private byte[] blockName;
    private int normal;
    private int zero;
    private int flags;
    private int payload;
    private Thread thread;
    volatile long packets;
    /** Set at a clean end of stream: this channel sends no more SYNCs (see {@link MultifdRecvGroup#syncMain}). */
    volatile boolean ended;

    MultifdReceiver(int id, MigrationChannel channel, MultifdRecvGroup group, GuestMemory memory,
                    MultifdCompression compression) {
        this.id = id;
        this.channel = channel;
        this.group = group;
        this.memory = memory;
        this.compression = compression;
        this.codec = PacketCodec.forReceiving(compression);
        this.compressed = codec == null ? null : ByteBuffer.allocateDirect(MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH);
        this.pages = codec == null ? null : ByteBuffer.allocateDirect(MultifdPacketDescriptor.PACKET_SIZE);
        this.pagesSegment = pages == null ? null : MemorySegment.ofBuffer(pages);
    }

    void start() {
        thread = Thread.ofPlatform().name("multifdrecv_" + id).daemon().start(this);
    }

    Thread thread() {
        return thread;
    }

    void closeChannel() {
        try {
            channel.close();
        } catch (IOException e) {
            // closing to unblock; nothing left to report
        }
    }

    @Override
    public void run() {
        try {
            while (readHeader()) {
                checkHeader();
                readPayload();
                applyPages();
                packets++;
                if ((flags & MultifdPacketDescriptor.FLAG_SYNC) != 0) {
                    group.syncReceived();
                    release.acquire();
                }
            }
            ended = true;
            group.wake();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            group.fail(id, t);
        } finally {
            if (codec != null) {
                codec.close();
            }
        }
    }

    /** Reads a whole header; false at a clean end of stream before its first byte. */
    private boolean readHeader() throws IOException {
        header.clear();
        ReadableByteChannel in = channel.in();
        while (header.hasRemaining()) {
            if (stamp(in.read(header)) < 0) {
                if (header.position() == 0) {
                    return false;
                }
                throw new EOFException("stream ended inside a packet header (" + header.position() + " of "
                        + MultifdPacketDescriptor.HEADER_LENGTH + " bytes)");
            }
        }
        return true;
    }

    private void checkHeader() throws StreamException {
        int magic = header.getInt(MultifdPacketDescriptor.MAGIC_OFFSET);
        if (magic != MultifdPacketDescriptor.MAGIC) {
            throw new StreamException(String.format("received packet magic %x and expected magic %x",
                    magic, MultifdPacketDescriptor.MAGIC));
        }
        int version = header.getInt(MultifdPacketDescriptor.VERSION_OFFSET);
        if (version != MultifdPacketDescriptor.VERSION) {
            throw new StreamException(String.format("received packet version %d and expected version %d",
                    version, MultifdPacketDescriptor.VERSION));
        }
        flags = header.getInt(MultifdPacketDescriptor.FLAGS_OFFSET);
        long alloc = Integer.toUnsignedLong(header.getInt(MultifdPacketDescriptor.PAGES_ALLOC_OFFSET));
        if (alloc > MultifdPacketDescriptor.PAGES_PER_PACKET) {
            throw new StreamException(String.format("received packet with %d pages, expected %d",
                    alloc, MultifdPacketDescriptor.PAGES_PER_PACKET));
        }
        long n = Integer.toUnsignedLong(header.getInt(MultifdPacketDescriptor.NORMAL_PAGES_OFFSET));
        long z = Integer.toUnsignedLong(header.getInt(MultifdPacketDescriptor.ZERO_PAGES_OFFSET));
        if (n + z > alloc) {
            throw new StreamException(String.format("received packet with %d normal pages and %d zero pages, "
                    + "which exceeds maximum expected pages %d", n, z, alloc));
        }
        normal = (int) n;
        zero = (int) z;
        long size = Integer.toUnsignedLong(header.getInt(MultifdPacketDescriptor.NEXT_PACKET_SIZE_OFFSET));
        if (normal > 0) {
            int method = flags & MultifdPacketDescriptor.FLAG_COMPRESSION_MASK;
            if (method != compression.flag()) {
                throw new StreamException(String.format("flags received %x flags expected %x", method, compression.flag()));
            }
        }
        long max = codec == null ? (long) normal * PAGE : MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH;
        if (codec == null ? size != max : size > max) {
            throw new StreamException(String.format("packet size received %d size expected %s%d", size,
                    codec == null ? "" : "at most ", max));
        }
        payload = (int) size;
        if (normal + zero == 0) {
            block = null;
            return;
        }
        if (block == null || !MultifdPacketDescriptor.blockNameEquals(header, blockName)) {
            findBlock();
        }
        MultifdPacketDescriptor.readOffsets(header, offsets, normal + zero);
        checkOffsets(block, offsets, normal + zero);
    }

    private void findBlock() throws StreamException {
        String name = MultifdPacketDescriptor.blockName(header);
        if (name == null) {
            throw new StreamException("ramblock name is not NUL-terminated");
        }
        block = memory.find(name);
        if (block == null) {
            throw new StreamException("unknown ram block " + name);
        }
        blockName = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    private static void checkOffsets(RamBlock block, long[] offsets, int count) throws StreamException {
        long last = block.size() - PAGE;
        for (int i = 0; i < count; i++) {
            long off = offsets[i];
            if (off < 0 || off > last || (off & (PAGE - 1)) != 0) {
                throw illegalOffset(block, off);
            }
        }
    }

    private static StreamException illegalOffset(RamBlock block, long off) {
        return new StreamException(String.format("Illegal RAM offset 0x%x in block '%s' (size 0x%x)",
                off, block.idstr(), block.size()));
    }

    private void readPayload() throws IOException {
        if (codec == null) {
            readPagesInPlace();
            return;
        }
        ByteBuffer dst = compressed;
        dst.clear().limit(payload);
        ReadableByteChannel in = channel.in();
        while (dst.hasRemaining()) {
            if (stamp(in.read(dst)) < 0) {
                throw new EOFException("stream ended inside a packet's payload (" + dst.position() + " of "
                        + payload + " bytes)");
            }
        }
        if (normal > 0) {
            compressed.flip();
            pages.clear().limit(normal * PAGE);
            int out = codec.decompress(compressed, pages);
            if (out != normal * PAGE) {
                throw new StreamException(out < 0 ? "multifd " + id + ": bad " + compression.qapiName() + " data"
                        : String.format("packet size received %d size expected %d", out, normal * PAGE));
            }
        }
    }

    /** The uncompressed payload ({@code normal} pages, checked by {@link #checkHeader}) read into guest RAM. */
    private void readPagesInPlace() throws IOException {
        if (normal == 0) {
            return;
        }
        markReceived(normal);
        int runs = PageRuns.views(block.segment(), offsets, normal, scatter, 0);
        try {
            ReadableByteChannel in = channel.in();
            ByteBuffer last = scatter[runs - 1];
            if (in instanceof ScatteringByteChannel sc) {
                while (last.hasRemaining()) {
                    if (stamp(sc.read(scatter, 0, runs)) < 0) {
                        throw payloadEnded();
                    }
                }
            } else {
                for (int r = 0; r < runs; r++) {
                    while (scatter[r].hasRemaining()) {
                        if (stamp(in.read(scatter[r])) < 0) {
                            throw payloadEnded();
                        }
                    }
                }
            }
        } finally {
            java.util.Arrays.fill(scatter, 0, runs, null);
        }
    }

    /** Marks a read that moved bytes as progress for x-stall-timeout ({@link MultifdProgress}); returns {@code n}. */
    private long stamp(long n) {
        if (n > 0) {
            group.progress.moved();
        }
        return n;
    }

    private EOFException payloadEnded() {
        return new EOFException("stream ended inside a packet's payload of " + payload + " bytes");
    }

    /** Zero pages, and pages the codec decompressed into {@link #pages}, go to guest RAM. */
    private void applyPages() {
        if (block == null) {
            return;
        }
        if (codec != null) {
            markReceived(normal);
            MemorySegment seg = block.segment();
            for (int i = 0; i < normal; i++) {
                long off = offsets[i];
                MemorySegment.copy(pagesSegment, (long) i * PAGE, seg, off, PAGE);
            }
        }
        for (int i = normal; i < normal + zero; i++) {
            ZeroPage.load(block, offsets[i]);
        }
    }

    /** The first {@code n} pages of the packet are about to be written into guest RAM. */
    private void markReceived(int n) {
        for (int i = 0; i < n; i++) {
            block.markReceived(offsets[i], PAGE);
        }
    }
}
