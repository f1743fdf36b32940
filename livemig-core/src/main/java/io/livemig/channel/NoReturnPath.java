package io.livemig.channel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The missing direction of a one-way transport (file, exec): every read or write fails with
 * "TRANSPORT: migration has no return path", so a caller that needs a return path (postcopy,
 * switchover-ack) gets a clear error instead of a hang. Stateless apart from its message.
 */
final class NoReturnPath implements ReadableByteChannel, WritableByteChannel {

    private final String message;

    NoReturnPath(String transport) {
        this.message = transport + ": migration has no return path";
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        throw new IOException(message);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        throw new IOException(message);
    }

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public void close() {
    }
}
