package io.livemig.multifd;

import java.nio.ByteBuffer;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * One channel's zlib stream, QEMU's {@code multifd-zlib.c} (capability {@code multifd},
 * {@code multifd-compression=zlib}, level {@code multifd-zlib-level}): a zlib-wrapped deflate
 * stream per channel; each packet is the deflate output of its pages up to a sync flush, so a
 * packet ends on a byte boundary (with deflate's empty stored block) and the receiver can inflate
 * it whole before the next arrives. The JDK's {@link Deflater}/{@link Inflater} are zlib itself,
 * so the bytes are those QEMU's zlib writes and reads.
 */
final class ZlibPacketCodec implements PacketCodec {

    /** Inflates the empty stored block a sync flush leaves after the last page; it yields no bytes. */
    private final ByteBuffer flushTail = ByteBuffer.allocateDirect(1);
    private final Deflater deflater;
    private final Inflater inflater;

    private ZlibPacketCodec(Deflater d, Inflater i) {
        this.deflater = d;
        this.inflater = i;
    }

    static ZlibPacketCodec forSending(int level) {
        return new ZlibPacketCodec(new Deflater(level), null);
    }

    static ZlibPacketCodec forReceiving() {
        return new ZlibPacketCodec(null, new Inflater());
    }

    @Override
    public int compress(ByteBuffer src, ByteBuffer dst) {
        dst.clear();
        deflater.setInput(src);
        // Deflater's contract for SYNC_FLUSH: call again while it filled the whole output space
        while (dst.hasRemaining()) {
            int before = dst.remaining();
            int n = deflater.deflate(dst, Deflater.SYNC_FLUSH);
            if (n < before && deflater.needsInput()) {
                break;
            }
        }
        return deflater.needsInput() && !src.hasRemaining() && dst.hasRemaining() ? dst.position() : -1;
    }

    @Override
    public int decompress(ByteBuffer src, ByteBuffer dst) {
        inflater.setInput(src);
        try {
            while (dst.hasRemaining()) {
                int n = inflater.inflate(dst);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary() || inflater.finished())) {
                    break; // input used up (or a stream that ended or wants a dictionary): too short
                }
            }
            // all pages are out; what is left must be the sync flush's empty stored block, which
            // inflates to nothing: one byte of output means the packet held more than its pages
            if (inflater.getRemaining() > 0) {
                flushTail.clear();
                if (inflater.inflate(flushTail) > 0) {
                    return BAD_DATA;
                }
            }
            return inflater.getRemaining() > 0 || inflater.finished() ? BAD_DATA : dst.position();
        } catch (DataFormatException e) {
            return BAD_DATA;
        }
    }

    @Override
    public void close() {
        if (deflater != null) {
            deflater.end();
        }
        if (inflater != null) {
            inflater.end();
        }
    }
}
