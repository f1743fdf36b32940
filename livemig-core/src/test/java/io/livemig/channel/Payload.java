package io.livemig.channel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A seeded pseudo-random byte stream that the writer generates and the reader regenerates, so a
 * 64 MiB round trip needs 2 MiB of heap, not 128. Failures name the seed and the first bad offset.
 */
final class Payload {

    static final int BLOCK = 1 << 20;

    private Payload() {
    }

    /** A seed from -Dlivemig.seed, else fresh; every failure message prints it. */
    static long seed() {
        return Long.getLong("livemig.seed", System.nanoTime());
    }

    static void write(WritableByteChannel out, long seed, long size) throws IOException {
        Random random = new Random(seed);
        byte[] block = new byte[BLOCK];
        ByteBuffer buffer = ByteBuffer.allocateDirect(BLOCK);
        for (long written = 0; written < size; ) {
            random.nextBytes(block);
            int n = (int) Math.min(BLOCK, size - written);
            buffer.clear();
            buffer.put(block, 0, n).flip();
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
            written += n;
        }
    }

    /** Reads exactly {@code size} bytes equal to {@link #write}'s, then expects end of stream. */
    static void verify(ReadableByteChannel in, long seed, long size) throws IOException {
        Random random = new Random(seed);
        byte[] expected = new byte[BLOCK];
        byte[] actual = new byte[BLOCK];
        ByteBuffer buffer = ByteBuffer.wrap(actual);
        for (long read = 0; read < size; ) {
            random.nextBytes(expected);
            int n = (int) Math.min(BLOCK, size - read);
            buffer.clear().limit(n);
            while (buffer.hasRemaining()) {
                if (in.read(buffer) < 0) {
                    fail("end of stream after %d of %d bytes (seed %#x)", read + buffer.position(), size, seed);
                }
            }
            int mismatch = Arrays.mismatch(expected, 0, n, actual, 0, n);
            if (mismatch >= 0) {
                fail("byte %d differs (seed %#x)", read + mismatch, seed);
            }
            read += n;
        }
        buffer.clear().limit(1);
        assertThat(in.read(buffer)).as("end of stream after %d bytes (seed %#x)", size, seed).isEqualTo(-1);
    }
}
