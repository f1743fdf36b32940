package io.livemig.channel;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * One migration connection: QEMU's QIOChannel under a QEMUFile, with the stream in one or both
 * directions. The source writes its main stream on {@link #out()} and reads the return path on
 * {@link #in()}; the destination does the reverse.
 *
 * <p>Concurrency: one thread may read while another writes (the migration thread and the
 * return-path thread); a third may call {@link #close()} at any time, which makes a blocked read
 * or write throw promptly ({@link java.nio.channels.AsynchronousCloseException} or another
 * {@link java.nio.channels.ClosedChannelException}). {@link #in()} and {@link #out()} return the
 * same object on every call and allocate nothing.
 */
public interface MigrationChannel extends Closeable {

    /** The destination's main stream, and the source's return path. */
    ReadableByteChannel in();

    /** The source's main stream, and the destination's return path. */
    WritableByteChannel out();

    /**
     * Whether the peer can talk back: true for tcp and unix sockets, false for file and exec
     * (QEMU: no return path there, hence no postcopy or switchover-ack). Without one, the
     * direction that is missing fails with "... migration has no return path".
     */
    boolean supportsReturnPath();

    /** Half-close: sockets send FIN and keep reading; file and exec close the output. */
    void shutdownOutput() throws IOException;

    /** The transport and address, for messages, e.g. {@code tcp:127.0.0.1:4444}. */
    String describe();

    /** Closes both directions and unblocks any thread blocked in a read or write on them. */
    @Override
    void close() throws IOException;
}
