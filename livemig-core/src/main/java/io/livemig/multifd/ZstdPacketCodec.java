package io.livemig.multifd;

import com.github.luben.zstd.EndDirective;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;

import java.nio.ByteBuffer;

/**
 * One channel's zstd stream, QEMU's {@code multifd-zstd.c}: each packet's pages are one more
 * block of the channel's stream, flushed (not ended) at the packet's end ({@link PacketCodec}).
 */
final class ZstdPacketCodec implements PacketCodec {

    /** takes what follows the last page: must stay empty */
    private final ByteBuffer flushTail = ByteBuffer.allocateDirect(1);
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

    @Override
    public int compress(ByteBuffer src, ByteBuffer dst) {
        dst.clear();
        boolean flushed;
        do {
            flushed = compressor.compressDirectByteBufferStream(dst, src, EndDirective.FLUSH);
        } while (!flushed && dst.hasRemaining());
        return flushed && !src.hasRemaining() ? dst.position() : -1;
    }

    @Override
    public int decompress(ByteBuffer src, ByteBuffer dst) {
        try {
            while (dst.hasRemaining()) {
                int before = dst.position();
                int srcBefore = src.position();
                decompressor.decompressDirectByteBufferStream(dst, src);
                if (dst.position() == before && src.position() == srcBefore) {
                    break; // no progress: the input is used up
                }
            }
            // all pages are out; what is left (in src, or already taken into the context) must
            // be the flush's empty block: one more byte of output means the packet held more
            // than its header said
            flushTail.clear();
            decompressor.decompressDirectByteBufferStream(flushTail, src);
            if (flushTail.position() > 0 || src.hasRemaining()) {
                return BAD_DATA;
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
