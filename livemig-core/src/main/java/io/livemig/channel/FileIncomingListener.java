package io.livemig.channel;

import java.io.IOException;

/**
 * {@code -incoming file:PATH}: the file is opened when listening starts, so a missing or
 * unreadable file fails at once, and the first {@link #accept()} hands that channel over without
 * blocking. Later accepts open the file again (one reader each, all from offset 0). Not
 * thread-safe beyond what {@link IncomingListener} promises: accept and close are synchronized.
 */
final class FileIncomingListener implements IncomingListener {

    private final MigrationUri.File uri;
    private FileMigrationChannel pending;
    private boolean closed;

    FileIncomingListener(MigrationUri.File uri) throws IOException {
        this.uri = uri;
        this.pending = FileMigrationChannel.open(uri);
    }

    @Override
    public synchronized MigrationChannel accept() throws IOException {
        if (closed) {
            throw new java.nio.channels.ClosedChannelException();
        }
        FileMigrationChannel channel = pending;
        pending = null;
        return channel != null ? channel : FileMigrationChannel.open(uri);
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
        return "FileIncomingListener[" + uri + "]";
    }
}
