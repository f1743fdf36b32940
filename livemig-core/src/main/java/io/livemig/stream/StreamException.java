package io.livemig.stream;

import java.io.IOException;
import java.io.Serial;

/**
 * A malformed or truncated migration stream, or a stream the local guest cannot accept. The
 * message names what was wrong the way QEMU's load errors do (section id and idstr where known).
 */
public class StreamException extends IOException {

    @Serial
    private static final long serialVersionUID = 1L;

    public StreamException(String message) {
        super(message);
    }

    public StreamException(String message, Throwable cause) {
        super(message, cause);
    }
}
