package io.livemig.stream;

/** The first byte of each top-level record (QEMU's {@code QEMU_VM_*}). */
public final class SectionType {

    public static final int EOF = 0x00;
    public static final int SECTION_START = 0x01;
    public static final int SECTION_PART = 0x02;
    public static final int SECTION_END = 0x03;
    public static final int SECTION_FULL = 0x04;
    public static final int SUBSECTION = 0x05;
    public static final int VMDESCRIPTION = 0x06;
    public static final int CONFIGURATION = 0x07;
    public static final int COMMAND = 0x08;
    public static final int SECTION_FOOTER = 0x7e;

    private SectionType() {
    }

    public static String name(int type) {
        return switch (type) {
            case EOF -> "EOF";
            case SECTION_START -> "SECTION_START";
            case SECTION_PART -> "SECTION_PART";
            case SECTION_END -> "SECTION_END";
            case SECTION_FULL -> "SECTION_FULL";
            case SUBSECTION -> "SUBSECTION";
            case VMDESCRIPTION -> "VMDESCRIPTION";
            case CONFIGURATION -> "CONFIGURATION";
            case COMMAND -> "COMMAND";
            case SECTION_FOOTER -> "SECTION_FOOTER";
            default -> String.format("0x%02x", type);
        };
    }
}
