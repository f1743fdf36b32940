package io.livemig.multifd;

import java.nio.ByteBuffer;

/**
 * One channel's compression stream (QEMU's per-method {@code MultiFDMethods}): the stream lives as
 * long as the channel, and each packet's pages are one more flushed (not ended) piece of it, so
 * the receiver inflates every packet on arrival while later packets may refer back to earlier
 * ones. Not thread-safe: one per sender or receiver thread.
 */
interface PacketCodec extends AutoCloseable {

    /** Returned by {@link #decompress} when the data does not inflate to the expected size. */
    int BAD_DATA = -1;

    /**
     * Compresses {@code src} (position..limit, direct) into {@code dst} (direct, from position 0)
     * and returns the compressed length, or -1 if it does not fit in {@code dst}.
     */
    int compress(ByteBuffer src, ByteBuffer dst);

    /**
     * Inflates {@code src} (position..limit, direct) into {@code dst} (direct, position 0, limit =
     * the expected size); returns the bytes produced, or {@link #BAD_DATA} when the data is not
     * this stream's, or holds more than the expected size.
     */
    int decompress(ByteBuffer src, ByteBuffer dst);

    @Override
    void close();

    /** The sender's codec for {@code method}, or null for {@code none}. */
    static PacketCodec forSending(MultifdCompression method, int level) {
        return switch (method) {
            case NONE -> null;
            case ZLIB -> ZlibPacketCodec.forSending(level);
            case ZSTD -> ZstdPacketCodec.forSending(level);
        };
    }

    /** The receiver's codec for {@code method}, or null for {@code none}. */
    static PacketCodec forReceiving(MultifdCompression method) {
        return switch (method) {
            case NONE -> null;
            case ZLIB -> ZlibPacketCodec.forReceiving();
            case ZSTD -> ZstdPacketCodec.forReceiving();
        };
    }
}
