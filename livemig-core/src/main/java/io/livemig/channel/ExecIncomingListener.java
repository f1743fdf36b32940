package io.livemig.channel;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;

/**
 * {@code -incoming exec:CMD}: like QEMU's exec_start_incoming_migration(), the command starts
 * when listening starts; the one {@link #accept()} hands its stdout over without blocking. There
 * is exactly one channel: a second accept fails. accept and close are synchronized.
 */
final class ExecIncomingListener implements IncomingListener {

    private final MigrationUri.Exec uri;
    private ExecMigrationChannel pending;
    private boolean accepted;
    private boolean closed;

    ExecIncomingListener(MigrationUri.Exec uri) throws IOException {
        this.uri = uri;
        this.pending = ExecMigrationChannel.start(uri, false);
    }

    @Override
    public synchronized MigrationChannel accept() throws IOException {
        if (closed) {
            throw new ClosedChannelException();
        }
        if (accepted) {
            throw new IOException(uri + ": an exec transport has only one channel");
        }
        accepted = true;
        ExecMigrationChannel channel = pending;
        pending = null;
        return channel;
    }

    @Override
    public MigrationUri address() {
        return uri;
    }

    @Override
    public synchronized void close() throws IOException {
        closed = true;
        if (pending != null) {
            pending.close();
            pending = null;
        }
    }

    @Override
    public String toString() {
        return "ExecIncomingListener[" + uri + "]";
    }
}
