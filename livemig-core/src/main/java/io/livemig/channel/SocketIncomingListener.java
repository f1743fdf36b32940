package io.livemig.channel;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A listening tcp or unix socket (QEMU's socket_start_incoming_migration() with a
 * QIONetListener). {@link #accept()} blocks in {@link ServerSocketChannel#accept()}; closing the
 * listener from another thread makes it throw {@link java.nio.channels.AsynchronousCloseException}.
 * Each accepted socket gets the same tuning as a connecting one ({@link SocketTransport#tune}).
 * A unix listener owns its socket file and deletes it on close.
 */
final class SocketIncomingListener implements IncomingListener {

    private final ServerSocketChannel server;
    private final MigrationUri address;
    private final Path socketFile;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** @param socketFile the unix socket file to delete on close, or null for tcp */
    SocketIncomingListener(ServerSocketChannel server, MigrationUri address, Path socketFile) {
        this.server = server;
        this.address = address;
        this.socketFile = socketFile;
    }

    @Override
    public MigrationChannel accept() throws IOException {
        SocketChannel socket = server.accept();
        try {
            SocketTransport.tune(socket);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
        return new SocketMigrationChannel(socket, address.toString());
    }

    @Override
    public MigrationUri address() {
        return address;
    }

    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return; // only the first close may delete the file: a later listener may own the path by now
        }
        try {
            server.close();
        } finally {
            if (socketFile != null) {
                Files.deleteIfExists(socketFile);
            }
        }
    }

    @Override
    public String toString() {
        return "SocketIncomingListener[" + address + "]";
    }
}
