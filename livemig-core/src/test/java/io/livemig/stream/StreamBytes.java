package io.livemig.stream;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.HexFormat;
import java.util.function.Consumer;

/** Test helpers: write records to bytes, read records from bytes. */
final class StreamBytes {

    private StreamBytes() {
    }

    static byte[] write(Consumer<MigrationOutput> writer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationOutput out = new MigrationOutput(Channels.newChannel(bytes), 8192);
        writer.accept(out);
        out.flush();
        if (out.hasError()) {
            throw new AssertionError("stream error", out.error());
        }
        return bytes.toByteArray();
    }

    static MigrationInput input(byte[] b) {
        return new MigrationInput(Channels.newChannel(new ByteArrayInputStream(b)), 8192);
    }

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replaceAll("\\s+", ""));
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
