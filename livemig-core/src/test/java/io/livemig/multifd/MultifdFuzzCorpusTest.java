package io.livemig.multifd;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Replays every multifd input that once found a bug ({@code src/test/resources/fuzz-corpus-multifd/},
 * format in {@link MultifdCorpus}) through {@link MultifdFuzzHarness}, with whole and with short
 * (61-byte, non-scattering) reads. Each must pass the fuzzer's rules; a {@code # expect:} line
 * requires the case to fail with that text in its message.
 */
@Timeout(120)
class MultifdFuzzCorpusTest {

    static MultifdFuzzHarness harness;

    @BeforeAll
    static void setUp() throws InterruptedException {
        harness = new MultifdFuzzHarness();
    }

    @AfterAll
    static void tearDown() {
        harness.close();
    }

    static Stream<Path> corpus() throws IOException, URISyntaxException {
        Path root = Path.of(MultifdFuzzCorpusTest.class.getResource("/fuzz-corpus-multifd").toURI());
        try (Stream<Path> s = Files.list(root)) {
            List<Path> files = s.filter(p -> p.toString().endsWith(".hex")).sorted().toList();
            assertThat(files).as("corpus files").isNotEmpty();
            return files.stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void replays(Path file) throws Exception {
        MultifdCorpus.Entry e = MultifdCorpus.parse(file);
        MultifdFuzzHarness.Input whole = e.input();
        MultifdFuzzHarness.Input small = new MultifdFuzzHarness.Input(whole.compression(), whole.channels(),
                whole.connections(), whole.flushes(), 61, false);
        for (MultifdFuzzHarness.Input in : List.of(whole, small)) {
            MultifdFuzzHarness.Verdict v = harness.run(in);
            assertThat(v.problem()).as("%s (reads of %d)", file.getFileName(), in.chunk()).isNull();
            if (e.expect() != null) {
                assertThat(v.outcome().error()).as("%s must fail", file.getFileName()).isNotNull();
                assertThat(v.outcome().error().getMessage()).contains(e.expect());
            }
        }
    }
}
