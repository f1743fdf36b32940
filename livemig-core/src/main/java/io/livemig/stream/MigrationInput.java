package io.livemig.stream;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * The reading half of QEMU's {@code QEMUFile}, for the destination: a buffered big-endian reader
 * over an untrusted stream.
 *
 * <p>Design. The channel is read in chunks of up to 256 KiB into one direct buffer and records
 * are parsed out of it, so a page costs one copy and no syscall of its own. Pages go straight
 * from the buffer into guest memory ({@link #getSegment}). The size is {@link MigrationOutput}'s,
 * for the same reason: the bytes the kernel just wrote are still in the core's L2 cache when
 * the loader copies them out (4 MiB chunks cost the incoming thread 25-35 % more CPU).
 *
 * <p>Untrusted input. Every read either returns the bytes asked for or throws: a stream that
 * ends early raises {@link EOFException} naming the offset. Callers bound every length they read
 * from the stream before asking for that many bytes; this class never allocates by a length it
 * was given except in {@link #getBytes(int, int)}, which takes the caller's bound. Cancellation
 * is by closing the channel from another thread, which fails the blocked read.
 *
 * <p>Threading: one owner (the incoming migration thread).
 */
public final class MigrationInput implements AutoCloseable {

    public static final int DEFAULT_BUFFER_SIZE = MigrationOutput.DEFAULT_BUFFER_SIZE;

    private final ReadableByteChannel channel;
    private final ByteBuffer buffer;
    private final MemorySegment bufferSegment;
    /** bytes consumed before the start of the buffer's current contents */
    private long base;
    private boolean released;

    public MigrationInput(ReadableByteChannel channel) {
        this(channel, DEFAULT_BUFFER_SIZE);
    }

    public MigrationInput(ReadableByteChannel channel, int bufferSize) {
        if (bufferSize < 8192) {
            throw new IllegalArgumentException("buffer size must be at least 8192, got " + bufferSize);
        }
        this.channel = channel;
        this.buffer = StreamBufferPool.acquire(bufferSize);
        this.bufferSegment = MemorySegment.ofBuffer(buffer);
        buffer.limit(0);
    }

    /** Makes at least {@code n} (≤ buffer capacity) bytes readable, or throws at end of stream. */
    private void require(int n) throws IOException {
        if (buffer.remaining() >= n) {
            return;
        }
        if (released) {
            throw new IOException("migration stream released");
        }
        base += buffer.position();
        buffer.compact();
        try {
            while (buffer.position() < n) {
                int r = channel.read(buffer);
                if (r < 0) {
                    long at = base + buffer.position();
                    throw new EOFException("migration stream ended unexpectedly after " + at + " bytes");
                }
            }
        } finally {
            buffer.flip();
        }
    }

    public int getU8() throws IOException {
        require(1);
        return buffer.get() & 0xff;
    }

    /** The next byte without consuming it, or -1 at a clean end of stream. */
    public int peekU8() throws IOException {
        if (!buffer.hasRemaining()) {
            try {
                require(1);
            } catch (EOFException e) {
                return -1;
            }
        }
        return buffer.get(buffer.position()) & 0xff;
    }

    public int getBe16() throws IOException {
        require(2);
        return buffer.getShort() & 0xffff;
    }

    public int getBe32() throws IOException {
        require(4);
        return buffer.getInt();
    }

    public long getBe64() throws IOException {
        require(8);
        return buffer.getLong();
    }

    /** Reads exactly {@code dst.length} bytes. */
    public void getBytes(byte[] dst) throws IOException {
        getBytes(dst, 0, dst.length);
    }

    public void getBytes(byte[] dst, int off, int len) throws IOException {
        while (len > 0) {
            int chunk = Math.min(len, buffer.capacity());
            require(chunk);
            buffer.get(dst, off, chunk);
            off += chunk;
            len -= chunk;
        }
    }

    /** Reads {@code len} bytes into a new array, after checking {@code len <= max} (the caller's bound). */
    public byte[] getBytes(int len, int max) throws IOException {
        if (len < 0 || len > max) {
            throw new StreamException("length " + Integer.toUnsignedString(len) + " exceeds the limit of " + max + " bytes");
        }
        byte[] b = new byte[len];
        getBytes(b);
        return b;
    }

    /** Copies the next {@code len} bytes into {@code dst} at {@code offset} (e.g. a guest page). */
    public void getSegment(MemorySegment dst, long offset, long len) throws IOException {
        while (len > 0) {
            int chunk = (int) Math.min(len, buffer.capacity());
            require(chunk);
            int pos = buffer.position();
            MemorySegment.copy(bufferSegment, pos, dst, offset, chunk);
            buffer.position(pos + chunk);
            offset += chunk;
            len -= chunk;
        }
    }

    /** Discards {@code len} bytes. */
    public void skip(long len) throws IOException {
        while (len > 0) {
            int chunk = (int) Math.min(len, buffer.capacity());
            require(chunk);
            buffer.position(buffer.position() + chunk);
            len -= chunk;
        }
    }

    /** A counted string: one length byte, then that many bytes. */
    public String getStr8() throws IOException {
        int n = getU8();
        require(n);
        String s = new String(bufferSegment.asSlice(buffer.position(), n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                StandardCharsets.UTF_8);
        buffer.position(buffer.position() + n);
        return s;
    }

    /**
     * Returns the buffer to the pool once the load is over; later reads fail. Only the owner
     * thread may call it.
     */
    public void release() {
        if (!released) {
            released = true;
            buffer.limit(0);
            StreamBufferPool.release(buffer);
        }
    }

    /** Bytes consumed so far. */
    public long position() {
        return base + buffer.position();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
