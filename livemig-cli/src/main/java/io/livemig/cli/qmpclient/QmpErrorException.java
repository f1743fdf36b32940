package io.livemig.cli.qmpclient;

import java.io.Serial;

/** A QMP {@code {"error": {"class", "desc"}}} reply, thrown by {@link QmpClient#execute}. */
public final class QmpErrorException extends RuntimeException {

    @Serial
    private static final long serialVersionUID = 1L;

    private final String errorClass;
    private final String desc;

    public QmpErrorException(String command, String errorClass, String desc) {
        super(command + ": " + errorClass + ": " + desc);
        this.errorClass = errorClass;
        this.desc = desc;
    }

    public String errorClass() {
        return errorClass;
    }

    public String desc() {
        return desc;
    }
}
