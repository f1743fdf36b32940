package io.livemig.stream;

import java.io.IOException;

/**
 * Section headers. START and FULL name the section; PART and END refer back to it by id.
 *
 * <pre>
 *  START/FULL:  u8 type | be32 section_id | u8 idlen | idstr[idlen] | be32 instance_id | be32 version_id
 *  PART/END:    u8 type | be32 section_id
 * </pre>
 *
 * Section ids are the source's registration counters and only identify a section within one
 * stream; the destination resolves START/FULL by (idstr, instance_id).
 */
public final class SectionHeaderDescriptor {

    /** Bytes of a START/FULL header before the idstr. */
    public static final int FULL_PREFIX_LENGTH = 1 + 4 + 1;
    public static final int SHORT_LENGTH = 1 + 4;
    public static final int MAX_IDSTR_LENGTH = 255;

    private SectionHeaderDescriptor() {
    }

    /** A START or FULL header as read, after its type byte. */
    public record Full(int type, int sectionId, String idstr, int instanceId, int versionId) {
    }

    public static void writeFull(MigrationOutput out, int type, int sectionId, String idstr, int instanceId, int versionId) {
        out.putU8(type);
        out.putBe32(sectionId);
        out.putStr8(idstr);
        out.putBe32(instanceId);
        out.putBe32(versionId);
    }

    public static void writeShort(MigrationOutput out, int type, int sectionId) {
        out.putU8(type);
        out.putBe32(sectionId);
    }

    /** Reads the rest of a START/FULL header whose type byte was already consumed. */
    public static Full readFull(MigrationInput in, int type) throws IOException {
        int sectionId = in.getBe32();
        String idstr = in.getStr8();
        int instanceId = in.getBe32();
        int versionId = in.getBe32();
        return new Full(type, sectionId, idstr, instanceId, versionId);
    }
}
