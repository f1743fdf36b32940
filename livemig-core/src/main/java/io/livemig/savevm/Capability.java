package io.livemig.savevm;

/** Migration capabilities livemig implements, with QEMU's names ({@code migrate-set-capabilities}). */
public enum Capability {
    EVENTS("events"),
    RETURN_PATH("return-path");

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
