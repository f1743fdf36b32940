package io.livemig.devices.vfio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The simulated device's state content: a deterministic byte stream where the byte at position
 * {@code p} depends only on the seed and {@code p}. Each 8-byte word {@code i} is SplitMix64 (the
 * generator behind {@link java.util.SplittableRandom}) of {@code seed + i × γ}, little-endian, so
 * any range can be produced on its own without generating what precedes it, and without
 * allocating: callers pass their reused buffer.
 */
final class VfioDataContent {

    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final long seed;

    VfioDataContent(long seed) {
        this.seed = seed;
    }

    /** Fills {@code buf[off, off+len)} with the stream's bytes from position {@code pos}. */
    void fill(byte[] buf, int off, int len, long pos) {
        int i = 0;
        while (i < len && ((pos + i) & 7) != 0) {
            buf[off + i] = byteAt(pos + i);
            i++;
        }
        for (; i + 8 <= len; i += 8) {
            LONG_LE.set(buf, off + i, word((pos + i) >>> 3));
        }
        for (; i < len; i++) {
            buf[off + i] = byteAt(pos + i);
        }
    }

    byte byteAt(long pos) {
        return (byte) (word(pos >>> 3) >>> (8 * (pos & 7)));
    }

    private long word(long index) {
        long z = seed + (index + 1) * GOLDEN_GAMMA;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
