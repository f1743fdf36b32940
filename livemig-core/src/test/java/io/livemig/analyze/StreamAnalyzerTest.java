package io.livemig.analyze;

import io.livemig.guest.RamBlock;
import io.livemig.savevm.MigrationStatus;
import io.livemig.vm.VirtualMachine;
import io.livemig.vm.VmConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/** A livemig stream for machine none has QEMU 7.2's section set, order, ids and FULL payloads. */
class StreamAnalyzerTest {

    /** What QEMU 7.2 writes for a paused {@code -machine none,memory-backend=mem0} guest (PART sections folded). */
    static final List<String> QEMU_NONE_SHAPES = List.of(
            "SECTION_START ram/0 v4 id 2",
            "SECTION_PART ram/0 v4 id 2",
            "SECTION_END ram/0 v4 id 2",
            "SECTION_FULL timer/0 v2 id 0",
            "SECTION_FULL globalstate/0 v1 id 4",
            "EOF");

    @Test
    @Timeout(60)
    void pausedGuestStreamHasQemusShape(@TempDir Path dir) throws Exception {
        long size = 4L << 20;
        Path file = dir.resolve("s.bin");
        VmConfig cfg = new VmConfig(Optional.empty(), Optional.empty(), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", size, Optional.empty(), false, false)), List.of(), true, Optional.empty());
        try (VirtualMachine vm = VirtualMachine.start(cfg)) {
            RamBlock b = vm.memory().find("mem0");
            for (long off = 0; off < size / 2; off += 4096) {
                b.writeLong(off, off + 1);
            }
            vm.migrate("file:" + file);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!vm.outgoingStatus().isFinished() && System.nanoTime() < deadline) {
                LockSupport.parkNanos(1_000_000);
            }
            assertThat(vm.outgoingStatus()).isEqualTo(MigrationStatus.COMPLETED);
        }
        StreamAnalyzer.Analysis a = StreamAnalyzer.analyze(file);
        assertThat(a.machine()).isEqualTo("none");
        assertThat(a.foldedShapes()).isEqualTo(QEMU_NONE_SHAPES);
        long zero = 0;
        long normal = 0;
        for (StreamAnalyzer.Record r : a.records()) {
            zero += r.ramCounts().getOrDefault("zero", 0L);
            normal += r.ramCounts().getOrDefault("normal", 0L);
        }
        assertThat(normal).isEqualTo(size / 2 / 4096);
        assertThat(zero).isEqualTo(size / 2 / 4096);
        StreamAnalyzer.Record timer = a.records().get(a.records().size() - 3);
        assertThat(timer.payloadHex()).isEqualTo("0".repeat(48));
        StreamAnalyzer.Record gs = a.records().get(a.records().size() - 2);
        byte[] runstate = new byte[100];
        byte[] name = "prelaunch".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(name, 0, runstate, 0, name.length);
        assertThat(gs.payloadHex()).isEqualTo("0000000a" + HexFormat.of().formatHex(runstate));
        assertThat(a.vmdesc()).startsWith("{\"page_size\": 4096, \"devices\": [{\"name\": \"timer\"");
    }

    /** With the block capability, QEMU 7.2's {@code block} section (id 3) follows {@code ram} in every phase. */
    @Test
    @Timeout(60)
    void blockSectionTakesQemusIdAndCarriesEveryChunkOnce(@TempDir Path dir) throws Exception {
        long size = 4L << 20;
        long disk = (3L << 20) + 8192;
        Path image = dir.resolve("disk.img");
        java.nio.file.Files.write(image, new byte[(int) disk]);
        Path file = dir.resolve("s.bin");
        VmConfig cfg = new VmConfig(Optional.empty(), Optional.empty(), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", size, Optional.empty(), false, false)), List.of(), true,
                Optional.empty(), List.of(), List.of(new VmConfig.DriveSpec("disk0", image)));
        try (VirtualMachine vm = VirtualMachine.start(cfg)) {
            vm.setMigrateCapabilities(List.of(java.util.Map.of("capability", "block", "state", true)));
            vm.migrate("file:" + file);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!vm.outgoingStatus().isFinished() && System.nanoTime() < deadline) {
                LockSupport.parkNanos(1_000_000);
            }
            assertThat(vm.outgoingStatus()).isEqualTo(MigrationStatus.COMPLETED);
        }
        StreamAnalyzer.Analysis a = StreamAnalyzer.analyze(file);
        List<String> shapes = a.foldedShapes();
        assertThat(shapes.subList(0, 2)).containsExactly("SECTION_START ram/0 v4 id 2", "SECTION_START block/0 v1 id 3");
        assertThat(shapes.subList(shapes.size() - 5, shapes.size())).containsExactly(
                "SECTION_END ram/0 v4 id 2", "SECTION_END block/0 v1 id 3",
                "SECTION_FULL timer/0 v2 id 0", "SECTION_FULL globalstate/0 v1 id 4", "EOF");
        long chunks = a.records().stream().filter(r -> r.idstr().equals("block"))
                .mapToLong(r -> r.ramCounts().getOrDefault("chunks", 0L)).sum();
        assertThat(chunks).as("a paused guest's drive: every 1 MiB chunk once, the short last one too").isEqualTo(4);
    }
}
