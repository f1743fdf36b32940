package io.livemig.stream;

import java.io.IOException;

/**
 * The stream header: the first eight bytes of every migration stream.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |               magic 0x5145564d ("QEVM"), be32                 |
 *  +---------------------------------------------------------------+
 *  |               version 0x00000003, be32                        |
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * A configuration section ({@link ConfigurationSection}) follows at once.
 */
public final class StreamHeaderDescriptor {

    public static final int MAGIC = 0x5145564d;
    public static final int VERSION = 3;
    /** The pre-2.x format; QEMU refuses it and so do we. */
    public static final int VERSION_COMPAT = 2;
    public static final int LENGTH = 8;

    private StreamHeaderDescriptor() {
    }

    public static void write(MigrationOutput out) {
        out.putBe32(MAGIC);
        out.putBe32(VERSION);
    }

    /** Reads and checks the header, failing with QEMU's messages. */
    public static void read(MigrationInput in) throws IOException {
        int magic = in.getBe32();
        if (magic != MAGIC) {
            throw new StreamException(String.format("Not a migration stream (magic 0x%08x, expected 0x%08x)", magic, MAGIC));
        }
        int version = in.getBe32();
        if (version == VERSION_COMPAT) {
            throw new StreamException("SaveVM v2 format is obsolete and don't work anymore");
        }
        if (version != VERSION) {
            throw new StreamException("Unsupported migration stream version " + version);
        }
    }
}
