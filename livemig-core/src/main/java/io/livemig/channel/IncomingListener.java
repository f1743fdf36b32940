package io.livemig.channel;

import java.io.Closeable;
import java.io.IOException;

/**
 * The destination's side of {@code -incoming URI}: QEMU's socket_start_incoming_migration(),
 * exec_start_incoming_migration() and file_start_incoming_migration(). For sockets it is a
 * listening socket; for file and exec the "connection" exists as soon as the listener does.
 *
 * <p>Concurrency: {@link #accept()} blocks one thread; {@link #close()} from another thread makes
 * it throw a {@link java.nio.channels.ClosedChannelException}. Channels already accepted stay open.
 */
public interface IncomingListener extends Closeable {

    /**
     * Blocks until the incoming connection arrives (file and exec: returns at once). Sockets may
     * accept more than once (the later connections are multifd channels).
     */
    MigrationChannel accept() throws IOException;

    /** The address actually bound: for tcp the real port (and IP), else the URI listened on. */
    MigrationUri address();

    /** Stops listening; a unix listener deletes the socket file it created. */
    @Override
    void close() throws IOException;
}
