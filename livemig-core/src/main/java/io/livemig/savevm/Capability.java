package io.livemig.savevm;

/** Migration capabilities livemig implements, with QEMU's names ({@code migrate-set-capabilities}). */
public enum Capability {
    /** XBZRLE delta encoding of resent pages against a cache of their last sent copy */
    XBZRLE("xbzrle"),
    EVENTS("events"),
    RETURN_PATH("return-path"),
    /** the destination acknowledges switchover once devices' initial data is loaded (QEMU 8.1+) */
    SWITCHOVER_ACK("switchover-ack"),
    /** QEMU 7.2's block migration of -drive images (removed from QEMU in 9.1) */
    BLOCK("block"),
    /** RAM pages on {@code multifd-channels} extra connections (QEMU 9.x packet layout) */
    MULTIFD("multifd"),
    /** the source sends its -uuid in the configuration; a destination with another UUID fails (QEMU 4.2+) */
    VALIDATE_UUID("validate-uuid");

    private final String qapiName;

    Capability(String qapiName) {
        this.qapiName = qapiName;
    }

    public String qapiName() {
        return qapiName;
    }

    /** The capability called {@code name}, or null. */
    public static Capability fromQapi(String name) {
        for (Capability c : values()) {
            if (c.qapiName.equals(name)) {
                return c;
            }
        }
        return null;
    }
}
