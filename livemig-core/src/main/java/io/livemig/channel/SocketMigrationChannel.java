package io.livemig.channel;

import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A connected tcp or unix stream socket (QEMU's QIOChannelSocket). The blocking
 * {@link SocketChannel} itself is both {@link #in()} and {@link #out()}: no wrapper, no copy, no
 * per-call allocation. NIO gives the concurrency this layer promises: a read and a write may run
 * at once on different threads, and {@link #close()} makes both throw
 * {@link java.nio.channels.AsynchronousCloseException}. Note that interrupting a thread blocked on
 * the channel closes it too (NIO's interruptible-channel rule).
 */
final class SocketMigrationChannel implements MigrationChannel {

    private final SocketChannel socket;
    private final String description;

    SocketMigrationChannel(SocketChannel socket, String description) {
        this.socket = socket;
        this.description = description;
    }

    /** The connected socket, for {@link TlsMigrationChannel} to layer TLS over. */
    SocketChannel socket() {
        return socket;
    }

    @Override
    public ReadableByteChannel in() {
        return socket;
    }

    @Override
    public WritableByteChannel out() {
        return socket;
    }

    @Override
    public boolean supportsReturnPath() {
        return true;
    }

    @Override
    public void shutdownOutput() throws IOException {
        socket.shutdownOutput();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    @Override
    public String toString() {
        return "SocketMigrationChannel[" + description + "]";
    }
}
