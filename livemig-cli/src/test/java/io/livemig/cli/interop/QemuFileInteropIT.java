package io.livemig.cli.interop;

import io.livemig.analyze.StreamAnalyzer;
import io.livemig.cli.testing.Await;
import io.livemig.cli.testing.GuestRamFile;
import io.livemig.cli.testing.QemuProcess;
import io.livemig.cli.testing.SeedExtension;
import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static io.livemig.cli.interop.Migrations.awaitCompleted;
import static io.livemig.cli.interop.Migrations.awaitRunState;
import static io.livemig.cli.interop.Migrations.runState;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Interop through saved streams with a real QEMU 7.2 ({@code qemu-system-x86_64}): a stream QEMU
 * writes loads into livemig, a stream livemig writes loads into QEMU, and both streams of the same
 * paused guest have the same records, device payloads and vmdesc.
 *
 * <p>QEMU 7.2 has no {@code file:} URI, so it saves with {@code exec:cat > FILE} and loads with
 * {@code -incoming exec:cat FILE}; livemig uses {@code file:}. Guests are {@code -machine none}
 * with one 64 MiB file-backed RAM block; sources are paused ({@code -S}), so their RAM never
 * changes and each page is sent exactly once. Destinations start with random garbage in RAM, so
 * equal RAM files after the load mean every page (ZERO records included) was written.
 */
@Timeout(120)
class QemuFileInteropIT {

    private static final String SIZE = "64M";
    private static final long BYTES = 64L << 20;
    private static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @RegisterExtension
    final SeedExtension seed = new SeedExtension();

    @Test
    void qemuStreamLoadsIntoLivemig() throws Exception {
        Path qemuRam = dir.resolve("qemu.ram");
        GuestRamFile.fill(qemuRam, BYTES, seed.seed());
        Path stream = saveFromQemu(qemuRam, dir.resolve("qemu.stream"));

        Path livemigRam = dir.resolve("livemig.ram");
        GuestRamFile.garbage(livemigRam, BYTES, ~seed.seed());
        try (VmProcess dst = VmProcess.start(dir, livemigGuest(livemigRam, "-incoming", "file:" + stream))) {
            awaitCompleted(dst.qmp(), "livemig destination", T, dst::output);
            // the source was paused before it ever ran: QEMU's rule keeps its run state
            assertThat(runState(dst.qmp())).isEqualTo("prelaunch");
            assertThat(Files.mismatch(qemuRam, livemigRam)).as("first differing byte of the RAM files").isEqualTo(-1);
        }
    }

    @Test
    void livemigStreamLoadsIntoQemu() throws Exception {
        Path livemigRam = dir.resolve("livemig.ram");
        GuestRamFile.fill(livemigRam, BYTES, seed.seed());
        Path stream = saveFromLivemig(livemigRam, dir.resolve("livemig.stream"));

        Path qemuRam = dir.resolve("qemu.ram");
        GuestRamFile.garbage(qemuRam, BYTES, ~seed.seed());
        try (QemuProcess dst = QemuProcess.start(dir, SIZE, qemuRam, "-incoming", "exec:cat " + stream)) {
            awaitCompleted(dst.qmp(), "QEMU destination", T, dst::output);
            assertThat(runState(dst.qmp())).as(dst.output()).isEqualTo("prelaunch");
            assertThat(Files.mismatch(livemigRam, qemuRam)).as("first differing byte of the RAM files").isEqualTo(-1);
        }
    }

    @Test
    void bothStreamsOfOneGuestHaveTheSameShape() throws Exception {
        Path qemuRam = dir.resolve("qemu.ram");
        GuestRamFile.Content content = GuestRamFile.fill(qemuRam, BYTES, seed.seed());
        Path livemigRam = dir.resolve("livemig.ram");
        Files.copy(qemuRam, livemigRam);

        StreamAnalyzer.Analysis qemu = StreamAnalyzer.analyze(saveFromQemu(qemuRam, dir.resolve("qemu.stream")));
        StreamAnalyzer.Analysis livemig = StreamAnalyzer.analyze(
                saveFromLivemig(livemigRam, dir.resolve("livemig.stream")));

        assertThat(livemig.machine()).isEqualTo(qemu.machine()).isEqualTo("none");
        assertThat(livemig.foldedShapes()).isEqualTo(qemu.foldedShapes());
        assertThat(fullPayloads(livemig)).isEqualTo(fullPayloads(qemu)).containsOnlyKeys("timer", "globalstate");
        assertThat(livemig.vmdesc()).isNotEmpty().isEqualTo(qemu.vmdesc());

        // a paused guest sends each page once: ZERO records for the zero pages, PAGE for the rest
        for (StreamAnalyzer.Analysis a : List.of(qemu, livemig)) {
            assertThat(ramCount(a, "zero")).as("ZERO records").isEqualTo(content.zeroPages()).isPositive();
            assertThat(ramCount(a, "normal")).as("PAGE records").isEqualTo(content.nonZeroPages()).isPositive();
        }
    }

    /**
     * QEMU ({@code -S}) saves its guest with {@code exec:}. QEMU may report {@code completed} before
     * {@code cat} has written everything, so cat writes a temporary file that is renamed once it has
     * exited: the file's appearance is the end of the stream.
     */
    private Path saveFromQemu(Path ram, Path stream) throws Exception {
        Path part = stream.resolveSibling(stream.getFileName() + ".part");
        try (QemuProcess src = QemuProcess.start(dir, SIZE, ram, "-S")) {
            src.qmp().execute("migrate", Map.of("uri", "exec:cat > " + part + " && mv " + part + " " + stream));
            awaitCompleted(src.qmp(), "QEMU source", T, src::output);
            Await.until(T, () -> Files.exists(stream), "cat wrote " + stream);
            awaitRunState(src.qmp(), "source", "postmigrate", T);
        }
        return stream;
    }

    /** livemig ({@code -S}) saves its guest with {@code file:}. */
    private Path saveFromLivemig(Path ram, Path stream) throws Exception {
        try (VmProcess src = VmProcess.start(dir, livemigGuest(ram, "-S"))) {
            src.qmp().execute("migrate", Map.of("uri", "file:" + stream));
            awaitCompleted(src.qmp(), "livemig source", T, src::output);
            awaitRunState(src.qmp(), "source", "postmigrate", T);
        }
        return stream;
    }

    private static String[] livemigGuest(Path ram, String... extra) {
        List<String> args = new ArrayList<>(QemuProcess.guestArgs(SIZE, ram));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    private static Map<String, String> fullPayloads(StreamAnalyzer.Analysis a) {
        return a.records().stream().filter(r -> r.type().equals("SECTION_FULL"))
                .collect(Collectors.toMap(StreamAnalyzer.Record::idstr, StreamAnalyzer.Record::payloadHex));
    }

    private static long ramCount(StreamAnalyzer.Analysis a, String key) {
        return a.records().stream().mapToLong(r -> r.ramCounts().getOrDefault(key, 0L)).sum();
    }
}
