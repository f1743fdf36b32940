package io.livemig.cli.qmp;

/**
 * Splits a QMP input byte stream into top-level JSON values, the way QEMU's json-streamer does
 * (qobject/json-streamer.c): an object or array ends when its brackets balance, however many
 * lines it spans and however many values share a line; a bare scalar ({@code hello}, {@code 1})
 * ends at whitespace. Only structure is tracked here (brackets, strings, escapes); the value is
 * parsed afterwards. Scanning bytes is safe for UTF-8 since every structural character is ASCII.
 *
 * <p>Bounds: a value longer than {@link #MAX_VALUE_BYTES} yields {@link Result#TOO_LARGE} (the
 * caller drops the client: resynchronising inside an unbounded value is not possible); nesting
 * deeper than {@link #MAX_DEPTH} yields {@link Result#TOO_DEEP} once, and the rest of that line is
 * discarded so the client can carry on. Not thread-safe: one framer per connection reader.
 */
final class JsonFramer {

    static final int MAX_VALUE_BYTES = 1 << 20;
    static final int MAX_DEPTH = 64;

    enum Result {
        /** byte consumed, no value complete */
        NONE,
        /** byte consumed and it completed a value: read it with {@link #value()} / {@link #length()} */
        VALUE,
        /** a scalar completed before this byte, which was not consumed: take the value, then feed it again */
        VALUE_REFEED,
        TOO_DEEP,
        TOO_LARGE
    }

    private byte[] buf = new byte[4096];
    private int len;
    private int depth;
    private byte quote;
    private boolean escape;
    private boolean discardLine;
    private boolean complete;

    Result feed(byte b) {
        if (complete) {
            len = 0;
            complete = false;
        }
        if (discardLine) {
            if (b == '\n') {
                discardLine = false;
            }
            return Result.NONE;
        }
        if (quote != 0) {
            if (escape) {
                escape = false;
            } else if (b == '\\') {
                escape = true;
            } else if (b == quote) {
                quote = 0;
            }
            return append(b);
        }
        switch (b) {
            case '"', '\'' -> {
                quote = b;
                return append(b);
            }
            case '{', '[' -> {
                if (depth == 0 && len > 0) {
                    complete = true;
                    return Result.VALUE_REFEED;
                }
                if (++depth > MAX_DEPTH) {
                    reset();
                    discardLine = b != '\n';
                    return Result.TOO_DEEP;
                }
                return append(b);
            }
            case '}', ']' -> {
                if (depth == 0) {
                    return append(b); // stray closer: reported by the parser
                }
                Result r = append(b);
                if (r == Result.NONE && --depth == 0) {
                    complete = true;
                    return Result.VALUE;
                }
                return r;
            }
            case ' ', '\t', '\r', '\n' -> {
                if (depth == 0) {
                    if (len > 0) {
                        complete = true;
                        return Result.VALUE;
                    }
                    return Result.NONE;
                }
                return append(b);
            }
            default -> {
                return append(b);
            }
        }
    }

    private Result append(byte b) {
        if (len == MAX_VALUE_BYTES) {
            reset();
            return Result.TOO_LARGE;
        }
        if (len == buf.length) {
            byte[] bigger = new byte[Math.min(MAX_VALUE_BYTES, buf.length * 2)];
            System.arraycopy(buf, 0, bigger, 0, len);
            buf = bigger;
        }
        buf[len++] = b;
        return Result.NONE;
    }

    private void reset() {
        len = 0;
        depth = 0;
        quote = 0;
        escape = false;
        complete = false;
        if (buf.length > 4096) {
            buf = new byte[4096];
        }
    }

    /** The completed value's bytes, valid until the next {@link #feed}. */
    byte[] value() {
        return buf;
    }

    int length() {
        return len;
    }
}
