package io.livemig.stream;

import java.io.IOException;

/**
 * The footer after every START/PART/END/FULL section: {@code u8 0x7e | be32 section_id}. A wrong
 * footer on load means the handler before it did not consume exactly its own payload.
 */
public final class SectionFooterDescriptor {

    public static final int LENGTH = 5;

    private SectionFooterDescriptor() {
    }

    public static void write(MigrationOutput out, int sectionId) {
        out.putU8(SectionType.SECTION_FOOTER);
        out.putBe32(sectionId);
    }

    /** Reads and checks a footer; {@code idstr} names the section in the error, as QEMU's does. */
    public static void check(MigrationInput in, int sectionId, String idstr) throws IOException {
        int marker = in.getU8();
        if (marker != SectionType.SECTION_FOOTER) {
            throw new StreamException(String.format("Missing section footer for %s (section %d): read 0x%02x",
                    idstr, sectionId, marker));
        }
        int id = in.getBe32();
        if (id != sectionId) {
            throw new StreamException(String.format("Mismatched section id in footer for %s - read 0x%x expected 0x%x",
                    idstr, id, sectionId));
        }
    }
}
