package io.livemig.multifd;

/** QAPI {@code MultiFDCompression}, with the packet flag bits of each method (QEMU's qpl, uadk and qatzip need hardware livemig does not drive). */
public enum MultifdCompression {
    NONE("none", MultifdPacketDescriptor.FLAG_NOCOMP),
    ZLIB("zlib", MultifdPacketDescriptor.FLAG_ZLIB),
    ZSTD("zstd", MultifdPacketDescriptor.FLAG_ZSTD);

    private final String qapiName;
    private final int flag;

    MultifdCompression(String qapiName, int flag) {
        this.qapiName = qapiName;
        this.flag = flag;
    }

    public String qapiName() {
        return qapiName;
    }

    /** The compression bits of a packet's flags. */
    public int flag() {
        return flag;
    }

    /** The method called {@code name}; the name was validated at the QMP edge. */
    public static MultifdCompression fromQapi(String name) {
        for (MultifdCompression c : values()) {
            if (c.qapiName.equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown multifd-compression '" + name + "'");
    }
}
