package io.livemig.stream;

import java.io.IOException;

/**
 * {@code QEMU_VM_COMMAND} records on the main stream: {@code u8 0x08 | be16 cmd | be16 len | payload[len]}.
 *
 * <pre>
 *  cmd  name               len  payload
 *   1   OPEN_RETURN_PATH    0
 *   2   PING                4   be32 value, answered by return-path PONG(value)
 * </pre>
 * The other QEMU commands (postcopy, COLO, recovery) are listed for the loader's messages; the
 * sender flushes after each command.
 */
public final class CommandDescriptor {

    public static final int INVALID = 0;
    public static final int OPEN_RETURN_PATH = 1;
    public static final int PING = 2;
    public static final int POSTCOPY_ADVISE = 3;
    public static final int POSTCOPY_LISTEN = 4;
    public static final int POSTCOPY_RUN = 5;
    public static final int POSTCOPY_RAM_DISCARD = 6;
    public static final int PACKAGED = 7;
    public static final int ENABLE_COLO = 8;
    public static final int POSTCOPY_RESUME = 9;
    public static final int RECV_BITMAP = 10;
    public static final int SWITCHOVER_START = 11;

    public static final int HEADER_LENGTH = 1 + 2 + 2;
    public static final int PING_LENGTH = 4;

    private CommandDescriptor() {
    }

    public static String name(int cmd) {
        return switch (cmd) {
            case INVALID -> "INVALID";
            case OPEN_RETURN_PATH -> "OPEN_RETURN_PATH";
            case PING -> "PING";
            case POSTCOPY_ADVISE -> "POSTCOPY_ADVISE";
            case POSTCOPY_LISTEN -> "POSTCOPY_LISTEN";
            case POSTCOPY_RUN -> "POSTCOPY_RUN";
            case POSTCOPY_RAM_DISCARD -> "POSTCOPY_RAM_DISCARD";
            case PACKAGED -> "PACKAGED";
            case ENABLE_COLO -> "ENABLE_COLO";
            case POSTCOPY_RESUME -> "POSTCOPY_RESUME";
            case RECV_BITMAP -> "RECV_BITMAP";
            case SWITCHOVER_START -> "SWITCHOVER_START";
            default -> "UNKNOWN(" + cmd + ")";
        };
    }

    public static void writeOpenReturnPath(MigrationOutput out) {
        out.putU8(SectionType.COMMAND);
        out.putBe16(OPEN_RETURN_PATH);
        out.putBe16(0);
        out.flush();
    }

    public static void writePing(MigrationOutput out, int value) {
        out.putU8(SectionType.COMMAND);
        out.putBe16(PING);
        out.putBe16(PING_LENGTH);
        out.putBe32(value);
        out.flush();
    }

    /** A command header as read, after its type byte. */
    public record Header(int cmd, int len) {
    }

    public static Header readHeader(MigrationInput in) throws IOException {
        int cmd = in.getBe16();
        int len = in.getBe16();
        return new Header(cmd, len);
    }

    /** Fails unless {@code h.len()} is the fixed length {@code expected} of its command (QEMU's -ERANGE). */
    public static void checkLength(Header h, int expected) throws StreamException {
        if (h.len() != expected) {
            throw new StreamException(String.format("%s received with bad length - expecting %d, got %d",
                    name(h.cmd()), expected, h.len()));
        }
    }
}
