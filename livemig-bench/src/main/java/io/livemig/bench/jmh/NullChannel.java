package io.livemig.bench.jmh;

import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;

/**
 * A channel that accepts and discards everything: the wire taken out of the page path. It takes
 * gathering writes, as a socket does, so {@code MigrationOutput.putSegmentAsync} builds its I/O
 * vector here as it would for a socket (the kernel's copy is what is left out).
 */
final class NullChannel implements GatheringByteChannel {

    long written;

    @Override
    public int write(ByteBuffer src) {
        int n = src.remaining();
        src.position(src.limit());
        written += n;
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
        long n = 0;
        for (int i = offset; i < offset + length; i++) {
            n += write(srcs[i]);
        }
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs) {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public void close() {
    }
}
