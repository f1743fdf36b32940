package io.livemig.cli;

import java.io.Serial;

/** Bad command-line input; the message is complete and is printed as is, then the process exits 1. */
public final class UsageException extends Exception {

    @Serial
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
        super(message);
    }
}
