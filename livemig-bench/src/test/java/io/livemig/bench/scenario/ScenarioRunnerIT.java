package io.livemig.bench.scenario;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * CI smoke test of the scenario runner: one run of a 64 MiB mixed guest on livemig and on QEMU
 * (CI installs it; a missing QEMU fails the test rather than skipping it), and the report has
 * every figure, the RAM verified on both, and a JSON result file; and one run of a 32 MiB text
 * guest with multifd, 2 channels, zstd, on each engine. (The order variants alternate in and
 * their labels are unit-tested in {@code ScenarioOptionsTest}; a CI smoke test stays short.)
 */
class ScenarioRunnerIT {

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void oneSmallRunOfEachEngineIsMeasuredAndVerified(@TempDir Path dir) throws Exception {
        ScenarioOptions options = ScenarioOptions.parse("--size", "64M", "--content", "mixed", "--runs", "1",
                "--loopback-size", "64M", "--dir", dir.toString(), "--timeout-s", "30");
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        Report report = new ScenarioRunner(options, new PrintStream(progress, true, StandardCharsets.UTF_8)).run();

        assertThat(report.runs()).as("runs; progress:%n%s", progress).hasSize(2);
        for (RunResult r : report.runs()) {
            assertThat(r.ok()).as("%s: %s", r.implementation(), r.error()).isTrue();
            assertThat(r.seconds()).isPositive();
            assertThat(r.downtimeMs()).isNotNegative();
            // half the pages are random: at least 32 MiB of page data on the wire, and a zero page for the rest
            assertThat(r.wireBytes()).isGreaterThan(30L << 20).isLessThan(40L << 20);
            assertThat(r.normalPages() + r.zeroPages()).isGreaterThanOrEqualTo((64L << 20) / 4096);
            assertThat(r.srcCpuSeconds()).isNotNegative();
            assertThat(r.dstCpuSeconds()).isNotNegative();
            assertThat(r.srcPeakRss()).isGreaterThan(64L << 20);
            assertThat(r.dstPeakRss()).isGreaterThan(64L << 20);
        }
        assertThat(report.loopback().get("mixed")).hasSize(1).allSatisfy(bps -> assertThat(bps).isPositive());

        String text = report.text();
        for (Report.Figure f : Report.figures(options.size())) {
            assertThat(text).contains(f.title());
        }
        assertThat(text).contains("livemig 1/1 verified", "QEMU 1/1 verified", "loopback TCP ceiling", "livemig/QEMU");

        JsonNode json = JsonMapper.builder().build().readTree(options.out().toFile());
        JsonNode scenario = json.path("scenarios").get(0);
        assertThat(scenario.path("content").asString()).isEqualTo("mixed");
        for (String impl : List.of("livemig", "qemu")) {
            JsonNode summary = scenario.path(impl).path("summary");
            assertThat(summary.path("seconds").path("n").asInt()).as(impl).isEqualTo(1);
            assertThat(summary.path("wire_mb_per_s").path("median").asDouble()).as(impl).isPositive();
            assertThat(scenario.path(impl).path("runs").get(0).path("ok").asBoolean()).as(impl).isTrue();
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void multifdZstdOnBothEnginesIsMeasuredAndVerified(@TempDir Path dir) throws Exception {
        long size = 32L << 20;
        ScenarioOptions options = ScenarioOptions.parse("--size", "32M", "--content", "text", "--runs", "1",
                "--channels", "2", "--compression", "zstd", "--loopback-size", "32M", "--dir", dir.toString(),
                "--timeout-s", "30");
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        Report report = new ScenarioRunner(options, new PrintStream(progress, true, StandardCharsets.UTF_8)).run();

        assertThat(report.runs()).as("runs; progress:%n%s", progress).hasSize(2);
        for (RunResult r : report.runs()) {
            assertThat(r.ok()).as("%s: %s", r.implementation(), r.error()).isTrue();
            assertThat(r.variant()).isEqualTo(new Variant(2, "zstd"));
            assertThat(r.content()).isEqualTo(RamContent.TEXT);
            assertThat(r.seconds()).isPositive();
            assertThat(r.downtimeMs()).isNotNegative();
            assertThat(r.zeroPages()).as("text has no zero page").isZero();
            assertThat(r.normalPages()).isGreaterThanOrEqualTo(size / 4096);
            assertThat(r.srcCpuSeconds()).isNotNegative();
            assertThat(r.dstPeakRss()).isGreaterThan(size);
        }
        RunResult livemig = report.runs().getFirst();
        assertThat(livemig.implementation()).isEqualTo(Implementation.LIVEMIG);
        // livemig counts what zstd put on the wire (later QEMU does too; QEMU 7.2 counts pages x 4 KiB)
        assertThat(livemig.wireBytes()).as("zstd: ~4.8x fewer bytes").isLessThan(size / 3);

        String text = report.text();
        assertThat(text).contains("2 channel(s), multifd, compression zstd", "livemig 1/1 verified", "QEMU 1/1 verified",
                "livemig/QEMU");

        JsonNode json = JsonMapper.builder().build().readTree(options.out().toFile());
        assertThat(json.path("multifd").asBoolean()).isTrue();
        JsonNode scenario = json.path("scenarios").get(0);
        for (String key : List.of("livemig", "qemu")) {
            assertThat(scenario.path(key).path("compression").asString()).as(key).isEqualTo("zstd");
            assertThat(scenario.path(key).path("channels").asInt()).as(key).isEqualTo(2);
            assertThat(scenario.path(key).path("summary").path("seconds").path("n").asInt()).as(key).isEqualTo(1);
            assertThat(scenario.path(key).path("runs").get(0).path("ok").asBoolean()).as(key).isTrue();
        }
    }
}
