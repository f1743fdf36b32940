package io.livemig.multifd;

import io.livemig.channel.MigrationChannel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A channel whose first bytes were already read to classify it (QEMU 9.x peeks the first 4 bytes
 * of each incoming connection); reads return those bytes first, then the connection's.
 */
final class PrefixedChannel implements MigrationChannel, ReadableByteChannel {

    private final MigrationChannel delegate;
    private final ByteBuffer prefix;

    PrefixedChannel(MigrationChannel delegate, ByteBuffer prefix) {
        this.delegate = delegate;
        this.prefix = prefix;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (prefix.hasRemaining()) {
            int n = Math.min(dst.remaining(), prefix.remaining());
            dst.put(dst.position(), prefix, prefix.position(), n);
            dst.position(dst.position() + n);
            prefix.position(prefix.position() + n);
            return n;
        }
        return delegate.in().read(dst);
    }

    @Override
    public boolean isOpen() {
        return delegate.in().isOpen();
    }

    @Override
    public ReadableByteChannel in() {
        return this;
    }

    @Override
    public WritableByteChannel out() {
        return delegate.out();
    }

    @Override
    public boolean supportsReturnPath() {
        return delegate.supportsReturnPath();
    }

    @Override
    public void shutdownOutput() throws IOException {
        delegate.shutdownOutput();
    }

    @Override
    public String describe() {
        return delegate.describe();
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}
