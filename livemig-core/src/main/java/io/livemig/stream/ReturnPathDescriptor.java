package io.livemig.stream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * Return-path messages, destination to source: {@code be16 type | be16 len | payload[len]}.
 *
 * <pre>
 *  type name            len  payload
 *   1   SHUT             4   be32: 0 = destination done, non-zero = destination failed
 *   2   PONG             4   be32 echo of the PING value
 *   7   SWITCHOVER_ACK   0   the destination approves switchover
 * </pre>
 *
 * The other QEMU types (postcopy page requests, recovery) are named for messages only. Frames are
 * small (QEMU's receiver buffer is 512 bytes), so this class reads and writes them whole with
 * plain channel calls; it is not on any hot path.
 */
public final class ReturnPathDescriptor {

    public static final int INVALID = 0;
    public static final int SHUT = 1;
    public static final int PONG = 2;
    public static final int REQ_PAGES_ID = 3;
    public static final int REQ_PAGES = 4;
    public static final int RECV_BITMAP = 5;
    public static final int RESUME_ACK = 6;
    public static final int SWITCHOVER_ACK = 7;

    public static final int HEADER_LENGTH = 4;
    public static final int MAX_PAYLOAD = 512;

    private ReturnPathDescriptor() {
    }

    public static String name(int type) {
        return switch (type) {
            case INVALID -> "INVALID";
            case SHUT -> "SHUT";
            case PONG -> "PONG";
            case REQ_PAGES_ID -> "REQ_PAGES_ID";
            case REQ_PAGES -> "REQ_PAGES";
            case RECV_BITMAP -> "RECV_BITMAP";
            case RESUME_ACK -> "RESUME_ACK";
            case SWITCHOVER_ACK -> "SWITCHOVER_ACK";
            default -> "UNKNOWN(" + type + ")";
        };
    }

    /** The fixed payload length of {@code type}, or -1 when it has none we know. */
    public static int fixedLength(int type) {
        return switch (type) {
            case SHUT, PONG, RESUME_ACK -> 4;
            case REQ_PAGES -> 12;
            case SWITCHOVER_ACK -> 0;
            default -> -1;
        };
    }

    /** One message as read. */
    public record Message(int type, byte[] payload) {
        public int be32() {
            return ByteBuffer.wrap(payload).getInt();
        }
    }

    /** Encodes a message with a be32 payload (SHUT, PONG). */
    public static ByteBuffer encodeBe32(int type, int value) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH + 4);
        b.putShort((short) type).putShort((short) 4).putInt(value).flip();
        return b;
    }

    /** Encodes a message without payload (SWITCHOVER_ACK). */
    public static ByteBuffer encodeEmpty(int type) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH);
        b.putShort((short) type).putShort((short) 0).flip();
        return b;
    }

    public static void write(WritableByteChannel ch, ByteBuffer frame) throws IOException {
        while (frame.hasRemaining()) {
            ch.write(frame);
        }
    }

    /**
     * Reads one message; returns {@code null} at a clean end of stream before a header. Fails on a
     * truncated frame, a payload over {@link #MAX_PAYLOAD}, or a fixed-length type with the wrong length.
     */
    public static Message read(ReadableByteChannel ch) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(HEADER_LENGTH);
        if (!readFully(ch, header, true)) {
            return null;
        }
        header.flip();
        int type = header.getShort() & 0xffff;
        int len = header.getShort() & 0xffff;
        if (type == INVALID || type > SWITCHOVER_ACK) {
            throw new StreamException("Received invalid message 0x" + Integer.toHexString(type) + " on return path");
        }
        int fixed = fixedLength(type);
        if (fixed >= 0 && len != fixed) {
            throw new StreamException(String.format("Received '%s' message (0x%04x) with incorrect length %d expecting %d",
                    name(type), type, len, fixed));
        }
        if (len > MAX_PAYLOAD) {
            throw new StreamException("Received '" + name(type) + "' message with length " + len
                    + " over the return path's " + MAX_PAYLOAD + "-byte limit");
        }
        ByteBuffer payload = ByteBuffer.allocate(len);
        readFully(ch, payload, false);
        return new Message(type, payload.array());
    }

    private static boolean readFully(ReadableByteChannel ch, ByteBuffer b, boolean eofOkAtStart) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b);
            if (r < 0) {
                if (eofOkAtStart && b.position() == 0) {
                    return false;
                }
                throw new StreamException("return path ended in the middle of a message");
            }
        }
        return true;
    }
}
