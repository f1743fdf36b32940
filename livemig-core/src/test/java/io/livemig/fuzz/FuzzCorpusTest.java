package io.livemig.fuzz;

import io.livemig.stream.MigrationInput;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Replays every input that once found a bug ({@code src/test/resources/fuzz-corpus/}). A
 * {@code .hex} file is hex text (whitespace ignored; {@code #} lines are comments, and a
 * {@code # expect: TEXT} line requires the load to fail with TEXT in its message); a
 * {@code .bin} file is raw bytes. Each must pass the fuzzer's rules ({@link FuzzHarness}).
 */
@Timeout(120)
class FuzzCorpusTest {

    @TempDir
    static Path dir;
    static FuzzDestination dest;
    static FuzzHarness harness;

    @BeforeAll
    static void setUp() throws IOException {
        dest = new FuzzDestination(FuzzSeeds.newDrive(dir, "dst-drive.img", 1));
        harness = new FuzzHarness(dest);
    }

    @AfterAll
    static void tearDown() {
        harness.close();
        dest.close();
    }

    static Stream<Path> corpus() throws IOException, URISyntaxException {
        Path root = Path.of(FuzzCorpusTest.class.getResource("/fuzz-corpus").toURI());
        try (Stream<Path> s = Files.list(root)) {
            List<Path> files = s.filter(p -> p.toString().endsWith(".hex") || p.toString().endsWith(".bin")).sorted().toList();
            assertThat(files).as("corpus files").isNotEmpty();
            return files.stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void replays(Path file) throws Exception {
        byte[] input;
        String expect = null;
        if (file.toString().endsWith(".hex")) {
            StringBuilder hex = new StringBuilder();
            for (String line : Files.readAllLines(file, StandardCharsets.US_ASCII)) {
                if (line.startsWith("# expect: ")) {
                    expect = line.substring("# expect: ".length()).strip();
                } else if (!line.startsWith("#")) {
                    hex.append(line.replaceAll("\\s+", ""));
                }
            }
            input = HexFormat.of().parseHex(hex);
        } else {
            try {
                input = Files.readAllBytes(file);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        for (int buf : new int[] {8192, MigrationInput.DEFAULT_BUFFER_SIZE}) {
            FuzzHarness.Verdict v = harness.run(input, buf, 0);
            assertThat(v.problem()).as("%s (buffer %d)", file.getFileName(), buf).isNull();
            if (expect != null) {
                assertThat(v.outcome().error()).as("%s must fail", file.getFileName()).isNotNull();
                assertThat(v.outcome().error().getMessage()).contains(expect);
            }
        }
    }
}
