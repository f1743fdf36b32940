package io.livemig.savevm;

/**
 * One registered state, QEMU's {@code SaveStateEntry}: a handler with its wire identity.
 *
 * @param idstr      section name on the wire (at most 255 bytes)
 * @param instanceId instance of that name
 * @param versionId  version written in START/FULL headers; the loader refuses higher versions
 * @param priority   higher first; equal priorities keep registration order
 * @param sectionId  the source's registration counter, written in section headers
 */
public record SaveStateEntry(String idstr, int instanceId, int versionId, int priority, int sectionId,
                             SaveStateHandler handler) {

    /** QEMU's {@code MIG_PRI_DEFAULT}. */
    public static final int PRIORITY_DEFAULT = 0;

    public boolean isIterative() {
        return handler.isIterative();
    }

    @Override
    public String toString() {
        return idstr + "(" + instanceId + ")";
    }
}
