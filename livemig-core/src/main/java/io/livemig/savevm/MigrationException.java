package io.livemig.savevm;

import java.io.Serial;

/** A migration that cannot go on; the message says why in QEMU's words where QEMU has them. */
public class MigrationException extends Exception {

    @Serial
    private static final long serialVersionUID = 1L;

    public MigrationException(String message) {
        super(message);
    }

    public MigrationException(String message, Throwable cause) {
        super(message, cause);
    }
}
