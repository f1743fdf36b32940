package io.livemig.bench.jmh;

import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** A channel that accepts and discards everything: the wire taken out of the page path. */
final class NullChannel implements WritableByteChannel {

    long written;

    @Override
    public int write(ByteBuffer src) {
        int n = src.remaining();
        src.position(src.limit());
        written += n;
        return n;
    }

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public void close() {
    }
}
