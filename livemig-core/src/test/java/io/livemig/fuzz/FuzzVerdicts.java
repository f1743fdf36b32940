package io.livemig.fuzz;

import java.io.IOException;

/** The rule every fuzzer of the destination applies to how a case ended. */
public final class FuzzVerdicts {

    private FuzzVerdicts() {
    }

    /**
     * Null when {@code t} is no error or a clear one (an {@link IOException} with a message, no
     * {@link RuntimeException} or {@link Error} among its causes); else what is wrong with it.
     */
    public static String judgeError(Throwable t) {
        if (t == null) {
            return null;
        }
        if (!(t instanceof IOException)) {
            return "escaped as " + t;
        }
        if (t.getMessage() == null || t.getMessage().isBlank()) {
            return "failure without a message: " + t;
        }
        for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
            if (c instanceof RuntimeException || c instanceof Error) {
                return "unhandled " + c + " (wrapped as: " + t.getMessage() + ")";
            }
        }
        return null;
    }
}
