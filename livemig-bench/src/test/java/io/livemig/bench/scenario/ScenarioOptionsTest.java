package io.livemig.bench.scenario;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Option parsing of {@code bin/bench}: what turns multifd on, and errors that name the value and the rule. */
class ScenarioOptionsTest {

    @TempDir
    Path dir;

    private ScenarioOptions parse(String... args) throws IOException {
        Path jar = dir.resolve("livemig.jar");
        if (!Files.exists(jar)) {
            Files.createFile(jar);
        }
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--livemig-jar";
        all[args.length + 1] = jar.toString();
        return ScenarioOptions.parse(all);
    }

    @Test
    void oneChannelWithoutCompressionIsTheClassicStream() throws IOException {
        ScenarioOptions o = parse();
        assertThat(o.multifd()).isFalse();
        assertThat(o.channels()).containsExactly(1);
        assertThat(o.compressions()).isEmpty();
        assertThat(o.variants()).containsExactly(new Variant(1, null));
        assertThat(o.qemu()).isTrue();
    }

    @Test
    void moreChannelsTurnMultifdOnForBothEnginesWithoutCompression() throws IOException {
        ScenarioOptions o = parse("--channels", "2");
        assertThat(o.multifd()).isTrue();
        assertThat(o.qemu()).as("QEMU runs multifd too now").isTrue();
        assertThat(o.variants()).containsExactly(new Variant(2, "none"));
    }

    @Test
    void severalChannelCountsAlternateTheClassicStreamAndMultifd() throws IOException {
        ScenarioOptions o = parse("--channels", "1,2,2");
        assertThat(o.variants()).containsExactly(new Variant(1, null), new Variant(2, "none"));
        assertThat(o.multifd()).isTrue();
        assertThat(Report.suffix(o.variants().get(0), o.variants())).isEqualTo("1ch");
        ScenarioOptions both = parse("--channels", "1,4", "--compression", "none,zstd");
        assertThat(both.variants()).containsExactly(new Variant(1, "none"), new Variant(1, "zstd"),
                new Variant(4, "none"), new Variant(4, "zstd"));
        assertThat(Report.suffix(both.variants().get(3), both.variants())).isEqualTo("4ch zstd");
    }

    @Test
    void compressionTurnsMultifdOnEvenWithOneChannelAndListsTheVariantsInOrder() throws IOException {
        ScenarioOptions one = parse("--compression", "zstd");
        assertThat(one.multifd()).isTrue();
        assertThat(one.channels()).containsExactly(1);
        assertThat(one.variants()).containsExactly(new Variant(1, "zstd"));

        ScenarioOptions two = parse("--channels", "2", "--compression", "none, ZSTD,none", "--max-bandwidth", "100M",
                "--content", "text");
        assertThat(two.variants()).containsExactly(new Variant(2, "none"), new Variant(2, "zstd"));
        assertThat(Report.suffix(two.variants().get(1), two.variants())).isEqualTo("zstd");
        assertThat(two.maxBandwidth()).isEqualTo(100L << 20);
        assertThat(two.contents()).containsExactly(RamContent.TEXT);

        ScenarioOptions zlib = parse("--compression", "zlib,none");
        assertThat(zlib.variants()).containsExactly(new Variant(1, "zlib"), new Variant(1, "none"));
    }

    @Test
    void badValuesNameTheValueAndTheRule() {
        assertThatThrownBy(() -> parse("--compression", "lz4"))
                .hasMessage("--compression must be none, zlib or zstd (comma-separated), got 'lz4'");
        assertThatThrownBy(() -> parse("--compression", "none,"))
                .hasMessageContaining("--compression must be none, zlib or zstd").hasMessageEndingWith("got ''");
        assertThatThrownBy(() -> ScenarioOptions.parse("--compression"))
                .hasMessageStartingWith("--compression needs a value");
        assertThatThrownBy(() -> parse("--channels", "0"))
                .hasMessage("--channels must be 1..64, got '0'");
        assertThatThrownBy(() -> parse("--channels", "two"))
                .hasMessage("--channels must be 1..64, got 'two'");
        assertThatThrownBy(() -> parse("--channels", "1,65"))
                .hasMessage("--channels must be 1..64, got '65'");
        assertThatThrownBy(() -> parse("--content", "ones"))
                .hasMessage("--content must be random, zero, mixed or text (comma-separated), got 'ones'");
        assertThatThrownBy(() -> parse("--max-bandwidth", "fast"))
                .hasMessage("--max-bandwidth must be a positive size like 64M or 1G, got 'fast'");
        assertThatThrownBy(() -> parse("--runs", "0"))
                .hasMessage("--runs must be 1..100, got '0'");
        assertThatThrownBy(() -> parse("--size", "12345"))
                .hasMessageContaining("--size must be a multiple of 4K");
        assertThatThrownBy(() -> parse("--size", "lots"))
                .hasMessageContaining("--size must be a positive size");
        assertThatThrownBy(() -> parse("--frobnicate"))
                .hasMessageContaining("unknown option '--frobnicate'");
    }

    @Test
    void usageNamesTheNewOptions() {
        assertThat(ScenarioOptions.USAGE).contains("--compression", "none|zlib|zstd", "random|zero|mixed|text", "-incoming defer");
        assertThat(List.of(RamContent.values())).extracting(RamContent::label).contains("text");
    }
}
