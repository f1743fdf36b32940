package io.livemig.vm;

import java.io.Serial;

/**
 * A control command that could not be carried out, shaped as QMP reports it:
 * {@code {"error": {"class": errorClass, "desc": desc}}}. The message is the desc, written the way
 * QEMU words the same error where QEMU has it.
 */
public final class VmCommandException extends Exception {

    @Serial
    private static final long serialVersionUID = 1L;

    /** QEMU's catch-all error class. */
    public static final String GENERIC_ERROR = "GenericError";
    /** QEMU's class for a QOM path or device id that names nothing. */
    public static final String DEVICE_NOT_FOUND = "DeviceNotFound";

    private final String errorClass;

    public VmCommandException(String errorClass, String desc) {
        super(desc);
        this.errorClass = errorClass;
    }

    public static VmCommandException generic(String desc) {
        return new VmCommandException(GENERIC_ERROR, desc);
    }

    public String errorClass() {
        return errorClass;
    }

    public String desc() {
        return getMessage();
    }
}
