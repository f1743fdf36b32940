package io.livemig.cli.demo;

import java.io.Serial;

/** The demo could not run or its result did not verify; the message says why. */
final class DemoException extends Exception {

    @Serial
    private static final long serialVersionUID = 1L;

    DemoException(String message) {
        super(message);
    }
}
