package io.livemig.stream;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * The writing half of QEMU's {@code QEMUFile}: a buffered big-endian writer with byte accounting
 * and a sticky error.
 *
 * <p>Design. Records are copied into one direct buffer (256 KiB by default) and the buffer is
 * written to the channel whole when it fills or on {@link #flush()}. One write per 256 KiB costs
 * far less than a write per record. The size is set by the cache, not by syscalls: a buffer that
 * fits the core's L2 (512 KiB here) is still there when the kernel copies it out, and the same
 * holds on the destination ({@link MigrationInput}). Measured with a 1 GiB random guest, thread
 * CPU of the migration and incoming threads: 4 MiB buffers 0.52-0.62 s and 0.65-0.76 s, 256 KiB
 * 0.38-0.50 s and 0.36-0.61 s; 64 KiB and 512 KiB no better than 256 KiB (docs/benchmarks.md).
 *
 * <p>Pages without a copy ({@link #putSegmentAsync}, QEMU's {@code qemu_put_buffer_async}). On a
 * gathering channel (a socket, a file) a page of guest RAM is not copied into the buffer: the
 * buffer's bytes so far and the page become two entries of an I/O vector, and {@link #flush()}
 * writes the vector with one gathering write ({@code writev}), so the kernel copies the page
 * straight from guest memory, as QEMU's RAM pages go. The vector holds at most
 * {@value #MAX_IOV} entries (Linux's IOV_MAX), about 2 MiB of pages per write. The views come
 * from {@link SegmentViews}: nothing is allocated per page. The page is read when the vector is
 * written, not when it is put: see {@link #putSegmentAsync} for why that is safe and when it is
 * not. Other channels (exec's pipe, TLS) get a copy, as before.
 *
 * <p>Errors. The first I/O error is latched ({@link #error()}); every later put and flush is a
 * no-op, as in QEMU. The engine checks {@link #hasError()} after each step instead of unwinding
 * through exceptions on the hot path.
 *
 * <p>Accounting. {@link #transferred()} counts every byte put, flushed or not (QEMU's
 * {@code qemu_file_transferred()}); the rate limiter and the bandwidth measurement use it.
 *
 * <p>Threading: one owner (the migration thread). {@link #transferred()} and {@link #error()} may
 * be read from other threads.
 */
public final class MigrationOutput implements AutoCloseable {

    public static final int DEFAULT_BUFFER_SIZE = 256 << 10;
    /** Entries of one gathering write: Linux's IOV_MAX. */
    static final int MAX_IOV = 1024;

    private final WritableByteChannel channel;
    private final ByteBuffer buffer;
    private final MemorySegment bufferSegment;
    /** the channel, if it takes gathering writes; null: every page is copied into the buffer */
    private final GatheringByteChannel gathering;
    /** the pending I/O vector: runs of the buffer and pages of guest RAM, in stream order */
    private final ByteBuffer[] iov;
    /** slot i's view of the buffer, for a run of it at iov[i] (made once per slot) */
    private final ByteBuffer[] runViews;
    private final SegmentViews pageViews;
    private int iovCount;
    /** where the buffer's bytes not yet in {@link #iov} start */
    private int runStart;
    private volatile long transferred;
    private volatile Throwable error;
    private boolean released;

    public MigrationOutput(WritableByteChannel channel) {
        this(channel, DEFAULT_BUFFER_SIZE);
    }

    public MigrationOutput(WritableByteChannel channel, int bufferSize) {
        if (bufferSize < 8192) {
            throw new IllegalArgumentException("buffer size must be at least 8192, got " + bufferSize);
        }
        this.channel = channel;
        this.buffer = StreamBufferPool.acquire(bufferSize);
        this.bufferSegment = MemorySegment.ofBuffer(buffer);
        this.gathering = channel instanceof GatheringByteChannel g ? g : null;
        this.iov = gathering == null ? null : new ByteBuffer[MAX_IOV];
        this.runViews = gathering == null ? null : new ByteBuffer[MAX_IOV];
        this.pageViews = gathering == null ? null : new SegmentViews(MAX_IOV);
    }

    private boolean reserve(int n) {
        if (error != null) {
            return false;
        }
        if (buffer.remaining() < n) {
            flush();
            if (error != null) {
                return false;
            }
        }
        transferred += n;
        return true;
    }

    public void putU8(int v) {
        if (reserve(1)) {
            buffer.put((byte) v);
        }
    }

    public void putBe16(int v) {
        if (reserve(2)) {
            buffer.putShort((short) v);
        }
    }

    public void putBe32(int v) {
        if (reserve(4)) {
            buffer.putInt(v);
        }
    }

    public void putBe64(long v) {
        if (reserve(8)) {
            buffer.putLong(v);
        }
    }

    public void putBytes(byte[] src) {
        putBytes(src, 0, src.length);
    }

    public void putBytes(byte[] src, int off, int len) {
        while (len > 0 && error == null) {
            int chunk = Math.min(len, buffer.capacity());
            if (!reserve(chunk)) {
                return;
            }
            buffer.put(src, off, chunk);
            off += chunk;
            len -= chunk;
        }
    }

    /** Copies {@code len} bytes of {@code src} at {@code offset} (e.g. a guest page) into the stream. */
    public void putSegment(MemorySegment src, long offset, int len) {
        while (len > 0 && error == null) {
            int chunk = Math.min(len, buffer.capacity());
            if (!reserve(chunk)) {
                return;
            }
            int pos = buffer.position();
            MemorySegment.copy(src, offset, bufferSegment, pos, chunk);
            buffer.position(pos + chunk);
            offset += chunk;
            len -= chunk;
        }
    }

    /**
     * Puts {@code len} bytes of {@code src} at {@code offset} (a page of guest RAM) into the stream
     * without copying them, where the channel allows it (see the class comment); else as
     * {@link #putSegment}.
     *
     * <p>The bytes are read when the stream is flushed, not now, so they may be newer than at
     * this call. That is what QEMU's asynchronous page writes accept too: a page the guest writes
     * in between is in the dirty log and goes again later, and a later copy always follows the
     * earlier in the stream. It is wrong where the sender must know exactly what the destination
     * got, as XBZRLE's cache does: such callers use {@link #putSegment}. The memory must stay
     * mapped until the next {@link #flush()}.
     */
    public void putSegmentAsync(MemorySegment src, long offset, int len) {
        if (gathering == null || error != null || !SegmentViews.viewable(src, offset, len)) {
            putSegment(src, offset, len);
            return;
        }
        if (iovCount + 3 > MAX_IOV) { // a run and this page now, the last run at the flush
            flush();
            if (error != null) {
                return;
            }
        }
        closeRun();
        iov[iovCount] = pageViews.view(iovCount, src, offset, len);
        iovCount++;
        transferred += len;
    }

    /** Moves the buffer's bytes since {@link #runStart} into the I/O vector. */
    private void closeRun() {
        int end = buffer.position();
        if (end == runStart) {
            return;
        }
        ByteBuffer v = runViews[iovCount];
        if (v == null) {
            v = buffer.duplicate();
            runViews[iovCount] = v;
        }
        v.clear().limit(end).position(runStart);
        iov[iovCount++] = v;
        runStart = end;
    }

    /** A counted string: one length byte, then the bytes (QEMU's {@code qemu_put_counted_string}). */
    public void putStr8(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > 255) {
            setError(new IOException("counted string longer than 255 bytes: '" + s + "'"));
            return;
        }
        putU8(b.length);
        putBytes(b);
    }

    /** Writes out everything buffered. On failure the error is latched and later calls do nothing. */
    public void flush() {
        if (error != null) {
            return;
        }
        try {
            if (iovCount > 0) {
                closeRun();
                writeVector();
            } else {
                buffer.flip();
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            }
        } catch (IOException | RuntimeException e) {
            setError(e);
        } finally {
            buffer.clear();
            runStart = 0;
            if (iovCount > 0) {
                java.util.Arrays.fill(iov, 0, iovCount, null);
                iovCount = 0;
            }
        }
    }

    /** One gathering write of the whole vector, repeated from the first unfinished entry after a short write. */
    private void writeVector() throws IOException {
        int first = 0;
        while (first < iovCount) {
            gathering.write(iov, first, iovCount - first);
            while (first < iovCount && !iov[first].hasRemaining()) {
                first++;
            }
        }
    }

    /**
     * Returns the buffer to the pool once the migration is over (no flush). Later puts do
     * nothing: the stream is latched in error. Only the owner thread may call it.
     */
    public void release() {
        if (!released) {
            released = true;
            setError(new java.io.IOException("migration stream released"));
            if (iov != null) {
                java.util.Arrays.fill(iov, null);
                java.util.Arrays.fill(runViews, null);
                pageViews.clear();
                iovCount = 0;
            }
            StreamBufferPool.release(buffer);
        }
    }

    /** Bytes put so far, flushed or still buffered. */
    public long transferred() {
        return transferred;
    }

    /** Bytes waiting in the buffer (pages put without a copy not counted). */
    public int buffered() {
        return buffer.position();
    }

    public boolean hasError() {
        return error != null;
    }

    /** The first error, or {@code null}. */
    public Throwable error() {
        return error;
    }

    /** Latches {@code t} as the stream's error unless one is already set (QEMU's {@code qemu_file_set_error}). */
    public synchronized void setError(Throwable t) {
        if (error == null) {
            error = t;
        }
    }

    /** Flushes and closes the channel. */
    @Override
    public void close() {
        flush();
        try {
            channel.close();
        } catch (IOException e) {
            setError(e);
        }
    }
}
