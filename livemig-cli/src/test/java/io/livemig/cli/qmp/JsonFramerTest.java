package io.livemig.cli.qmp;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class JsonFramerTest {

    private final JsonFramer framer = new JsonFramer();
    private final List<String> out = new ArrayList<>();

    private void feed(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) {
            JsonFramer.Result r = framer.feed(b[i]);
            switch (r) {
                case VALUE -> out.add(new String(framer.value(), 0, framer.length(), StandardCharsets.UTF_8));
                case VALUE_REFEED -> {
                    out.add(new String(framer.value(), 0, framer.length(), StandardCharsets.UTF_8));
                    i--;
                }
                case TOO_DEEP, TOO_LARGE -> out.add(r.name());
                case NONE -> {
                }
            }
        }
    }

    @Test
    void objectsSplitAcrossLinesAndSharingALine() {
        feed("{\"execute\":\n \"stop\"}{\"execute\":\"cont\"}\n");
        assertThat(out).containsExactly("{\"execute\":\n \"stop\"}", "{\"execute\":\"cont\"}");
    }

    @Test
    void bracketsInsideStringsAndEscapes() {
        feed("{\"a\":\"}]\\\"{\",'b':'}'}\n");
        assertThat(out).containsExactly("{\"a\":\"}]\\\"{\",'b':'}'}");
    }

    @Test
    void scalarsEndAtWhitespaceOrAtAnOpeningBracket() {
        feed("hello 1\n\"s\"{}junk\n");
        assertThat(out).containsExactly("hello", "1", "\"s\"", "{}", "junk");
    }

    @Test
    void tooDeepIsReportedOnceAndTheLineDiscarded() {
        feed("[".repeat(JsonFramer.MAX_DEPTH + 1) + "]".repeat(JsonFramer.MAX_DEPTH + 1) + "\n{}\n");
        assertThat(out).containsExactly("TOO_DEEP", "{}");
    }

    @Test
    void exactlyMaxDepthIsAccepted() {
        feed("[".repeat(JsonFramer.MAX_DEPTH) + "]".repeat(JsonFramer.MAX_DEPTH) + "\n");
        assertThat(out).hasSize(1).first().asString().hasSize(2 * JsonFramer.MAX_DEPTH);
    }

    @Test
    void tooLarge() {
        feed("\"" + "x".repeat(JsonFramer.MAX_VALUE_BYTES) + "\"");
        assertThat(out).containsExactly("TOO_LARGE");
    }
}
