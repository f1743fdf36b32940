package io.livemig.stream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The configuration record right after the stream header: a bare VMState ({@code configuration},
 * version 1) with no section header and no footer.
 *
 * <pre>
 *  u8 0x07 | be32 len | name[len]                                  machine type, e.g. "none"
 *  [u8 0x05 | str8 "configuration/target-page-bits" | be32 1 | be32 bits]
 *  [u8 0x05 | str8 "configuration/capabilities"     | be32 1 | be32 n | n × str8 name]
 *  [u8 0x05 | str8 "configuration/uuid"             | be32 1 | 16 bytes]
 * </pre>
 *
 * QEMU 7.2 for x86 writes the name alone unless {@code validate-uuid} is on; the subsections are
 * read so that newer sources load too.
 */
public final class ConfigurationSection {

    public static final String TARGET_PAGE_BITS = "configuration/target-page-bits";
    public static final String CAPABILITIES = "configuration/capabilities";
    public static final String UUID_SUBSECTION = "configuration/uuid";
    /** Longest machine name accepted from a stream. */
    public static final int MAX_NAME_LENGTH = 256;

    private ConfigurationSection() {
    }

    /** What the source's configuration said. */
    public record Configuration(String machine, Optional<UUID> uuid, int targetPageBits, List<String> capabilities) {
    }

    public static void write(MigrationOutput out, String machine, Optional<UUID> uuid) {
        byte[] name = machine.getBytes(StandardCharsets.UTF_8);
        out.putU8(SectionType.CONFIGURATION);
        out.putBe32(name.length);
        out.putBytes(name);
        uuid.ifPresent(u -> {
            out.putU8(SectionType.SUBSECTION);
            out.putStr8(UUID_SUBSECTION);
            out.putBe32(1);
            out.putBe64(u.getMostSignificantBits());
            out.putBe64(u.getLeastSignificantBits());
        });
    }

    /**
     * Reads the configuration record, type byte included. {@code targetPageBits} is 0 when the
     * stream did not say (then the architecture's minimum, 12 for x86, applies).
     */
    public static Configuration read(MigrationInput in) throws IOException {
        int type = in.getU8();
        if (type != SectionType.CONFIGURATION) {
            throw new StreamException("Configuration section missing (read " + SectionType.name(type) + ")");
        }
        int len = in.getBe32();
        byte[] name = in.getBytes(len, MAX_NAME_LENGTH);
        Optional<UUID> uuid = Optional.empty();
        int pageBits = 0;
        List<String> caps = new ArrayList<>();
        while (in.peekU8() == SectionType.SUBSECTION) {
            in.getU8();
            String sub = in.getStr8();
            int version = in.getBe32();
            if (version != 1) {
                throw new StreamException("configuration: subsection '" + sub + "' version " + version + " not supported");
            }
            switch (sub) {
                case TARGET_PAGE_BITS -> pageBits = in.getBe32();
                case CAPABILITIES -> {
                    int n = in.getBe32();
                    if (n < 0 || n > 64) {
                        throw new StreamException("configuration: capability count " + Integer.toUnsignedString(n) + " out of range");
                    }
                    for (int i = 0; i < n; i++) {
                        caps.add(in.getStr8());
                    }
                }
                case UUID_SUBSECTION -> {
                    byte[] b = new byte[16];
                    in.getBytes(b);
                    ByteBuffer bb = ByteBuffer.wrap(b);
                    uuid = Optional.of(new UUID(bb.getLong(), bb.getLong()));
                }
                default -> throw new StreamException("configuration: unknown subsection '" + sub + "'");
            }
        }
        return new Configuration(new String(name, StandardCharsets.UTF_8), uuid, pageBits, List.copyOf(caps));
    }
}
