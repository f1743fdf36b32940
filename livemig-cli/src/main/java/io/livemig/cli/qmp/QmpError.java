package io.livemig.cli.qmp;

import io.livemig.vm.VmCommandException;

import java.io.Serial;

/** A QMP error reply {@code {"error": {"class": errorClass, "desc": desc}}} raised while handling one request. */
final class QmpError extends Exception {

    @Serial
    private static final long serialVersionUID = 1L;

    static final String COMMAND_NOT_FOUND = "CommandNotFound";

    private final String errorClass;

    QmpError(String errorClass, String desc) {
        super(desc, null, false, false);
        this.errorClass = errorClass;
    }

    static QmpError generic(String desc) {
        return new QmpError(VmCommandException.GENERIC_ERROR, desc);
    }

    static QmpError of(VmCommandException e) {
        return new QmpError(e.errorClass(), e.desc());
    }

    String errorClass() {
        return errorClass;
    }

    String desc() {
        return getMessage();
    }
}
