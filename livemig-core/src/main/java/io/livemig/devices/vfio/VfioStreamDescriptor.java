package io.livemig.devices.vfio;

/**
 * The VFIO device section payloads, as QEMU's {@code hw/vfio/migration.c} writes them (migration
 * v2). Every marker is a be64 whose high 32 bits are all ones and whose next 16 bits are the
 * magic {@code 0xef10}; the payload of every section is a sequence of markers ending with
 * {@link #END_OF_STATE} (or, in a PART section, {@link #DEV_INIT_DATA_SENT}).
 *
 * <pre>
 *  START (vfio_save_setup)            PART (vfio_save_iterate)
 *  +----------------------+           +----------------------+   present only when the
 *  | be64 DEV_SETUP_STATE |           | be64 DEV_DATA_STATE  | \ device had data to read
 *  +----------------------+           +----------------------+  |
 *  | be64 END_OF_STATE    |           | be64 size (≤ 1 MiB)  |  |
 *  +----------------------+           +----------------------+  |
 *                                     | size bytes           | /
 *  END (vfio_save_complete_precopy)   +----------------------+
 *  +----------------------+           | be64 END_OF_STATE, or|   INIT_DATA_SENT: once, with
 *  | DEV_DATA_STATE, size,| × n       | DEV_INIT_DATA_SENT   |   switchover-ack, when the
 *  | bytes (≤ 1 MiB each) |           +----------------------+   initial data is all sent
 *  +----------------------+
 *  | be64 END_OF_STATE    |           FULL (vfio_save_state, old-style: no vmsd)
 *  +----------------------+           +----------------------+
 *                                     | be64 DEV_CONFIG_STATE|
 *                                     +----------------------+
 *                                     | config blob (256 B)  |
 *                                     +----------------------+
 *                                     | be64 END_OF_STATE    |
 *                                     +----------------------+
 * </pre>
 */
public final class VfioStreamDescriptor {

    /** QEMU's {@code VFIO_MIG_FLAG_END_OF_STATE}. */
    public static final long END_OF_STATE = 0xffffffffef100001L;
    /** QEMU's {@code VFIO_MIG_FLAG_DEV_CONFIG_STATE}. */
    public static final long DEV_CONFIG_STATE = 0xffffffffef100002L;
    /** QEMU's {@code VFIO_MIG_FLAG_DEV_SETUP_STATE}. */
    public static final long DEV_SETUP_STATE = 0xffffffffef100003L;
    /** QEMU's {@code VFIO_MIG_FLAG_DEV_DATA_STATE}. */
    public static final long DEV_DATA_STATE = 0xffffffffef100004L;
    /** QEMU's {@code VFIO_MIG_FLAG_DEV_INIT_DATA_SENT}. */
    public static final long DEV_INIT_DATA_SENT = 0xffffffffef100005L;

    /** QEMU's {@code VFIO_MIG_DEFAULT_DATA_BUFFER_SIZE}: the most one DATA record carries. */
    public static final int DATA_BUFFER_SIZE = 1 << 20;
    /** Bytes of the simulated device's config space in the FULL section ("PCI config"). */
    public static final int CONFIG_SIZE = 256;
    /** Length of one marker or size field. */
    public static final int MARKER_LENGTH = 8;
    /** Bytes of a DATA record around its data: marker and size. */
    public static final int DATA_HEADER_LENGTH = 2 * MARKER_LENGTH;

    /** The section idstr suffix: QEMU names the section {@code <qdev path>/vfio}. */
    public static final String IDSTR_SUFFIX = "/vfio";
    public static final int VERSION = 1;

    private VfioStreamDescriptor() {
    }

    /** The section idstr of the device with qdev id {@code id}. */
    public static String idstr(String id) {
        return id + IDSTR_SUFFIX;
    }

    /** Bytes of a FULL section payload. */
    public static int fullPayloadLength() {
        return MARKER_LENGTH + CONFIG_SIZE + MARKER_LENGTH;
    }

    /** The marker's name for messages, or its hex value when it is no marker. */
    public static String name(long marker) {
        if (marker == END_OF_STATE) {
            return "END_OF_STATE";
        } else if (marker == DEV_CONFIG_STATE) {
            return "DEV_CONFIG_STATE";
        } else if (marker == DEV_SETUP_STATE) {
            return "DEV_SETUP_STATE";
        } else if (marker == DEV_DATA_STATE) {
            return "DEV_DATA_STATE";
        } else if (marker == DEV_INIT_DATA_SENT) {
            return "DEV_INIT_DATA_SENT";
        }
        return "0x" + Long.toHexString(marker);
    }
}
