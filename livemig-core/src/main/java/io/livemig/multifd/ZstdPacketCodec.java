package io.livemig.multifd;

import com.github.luben.zstd.EndDirective;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;

import java.nio.ByteBuffer;

/**
 * One channel's zstd stream, QEMU's {@code multifd-zstd.c}: the stream context lives as long as
 * the channel, and each packet's pages are compressed as one more block of that stream, flushed
 * (not ended) at the packet's end, so the receiver can inflate every packet on arrival while later
 * packets still refer back to earlier ones. Not thread-safe: one per sender or receiver thread.
 */
final class ZstdPacketCodec implements AutoCloseable {

    /** Returned by {@link #decompress} when the data does not inflate to the expected size. */
    static final int BAD_DATA = -1;

    private final ZstdCompressCtx compressor;
    private final ZstdDecompressCtx decompressor;

    private ZstdPacketCodec(ZstdCompressCtx c, ZstdDecompressCtx d) {
        this.compressor = c;
        this.decompressor = d;
    }

    static ZstdPacketCodec forSending(int level) {
        return new ZstdPacketCodec(new ZstdCompressCtx().setLevel(level), null);
    }

    static ZstdPacketCodec forReceiving() {
        return new ZstdPacketCodec(null, new ZstdDecompressCtx());
    }

    /**
     * Compresses {@code src} (position..limit, direct) into {@code dst} (direct, from position 0)
     * and returns the compressed length, or -1 if it does not fit in {@code dst}.
     */
    int compress(ByteBuffer src, ByteBuffer dst) {
        dst.clear();
        boolean flushed;
        do {
            flushed = compressor.compressDirectByteBufferStream(dst, src, EndDirective.FLUSH);
        } while (!flushed && dst.hasRemaining());
        return flushed && !src.hasRemaining() ? dst.position() : -1;
    }

    /**
     * Inflates {@code src} (position..limit, direct) into {@code dst} (direct, position 0, limit =
     * the expected size); returns the bytes produced, or {@link #BAD_DATA} on a zstd error.
     */
    int decompress(ByteBuffer src, ByteBuffer dst) {
        try {
            while (dst.hasRemaining()) {
                int before = dst.position();
                int srcBefore = src.position();
                decompressor.decompressDirectByteBufferStream(dst, src);
                if (dst.position() == before && src.position() == srcBefore) {
                    break; // no progress: the input is used up
                }
            }
            if (src.hasRemaining()) {
                // all pages are out; the rest must be the flush's empty block
                ByteBuffer none = dst.slice(dst.position(), 0);
                decompressor.decompressDirectByteBufferStream(none, src);
                if (src.hasRemaining()) {
                    return BAD_DATA;
                }
            }
            return dst.position();
        } catch (RuntimeException e) {
            return BAD_DATA;
        }
    }

    @Override
    public void close() {
        if (compressor != null) {
            compressor.close();
        }
        if (decompressor != null) {
            decompressor.close();
        }
    }
}
