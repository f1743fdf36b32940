package io.livemig.vm;

import io.livemig.guest.RamBlock;
import io.livemig.guest.RunState;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

import static io.livemig.vm.InProcessMigrationTest.await;
import static io.livemig.vm.InProcessMigrationTest.config;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A stream cut at any point, or with a wrong section footer, fails on the destination with an
 * error that says where, and the guest never starts.
 */
@Timeout(120)
class DamagedStreamTest {

    static final long SEED = Long.getLong("livemig.seed", 20261129L);
    static final long SIZE = 1L << 20;
    @TempDir
    static Path dir;
    static byte[] stream;

    @BeforeAll
    static void saveAStream() throws Exception {
        Path file = dir.resolve("good.bin");
        try (VirtualMachine src = VirtualMachine.start(config(SIZE, List.of(), Optional.empty(), true))) {
            RamBlock b = src.memory().find("mem0");
            SplittableRandom r = new SplittableRandom(SEED);
            for (long off = 0; off < SIZE / 2; off += 8) {
                b.writeLong(off, r.nextLong());
            }
            src.migrate("file:" + file);
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(30), "save");
            assertThat(src.outgoingStatus()).isEqualTo(MigrationStatus.COMPLETED);
        }
        stream = Files.readAllBytes(file);
    }

    /** Loads {@code bytes} into a fresh destination; returns its query-migrate. */
    private static Map<String, Object> load(byte[] bytes, String name, RunState[] stateAfter) throws Exception {
        Path f = dir.resolve(name);
        Files.write(f, bytes);
        try (VirtualMachine dst = VirtualMachine.start(config(SIZE, List.of(), Optional.of("file:" + f), false))) {
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(30), "load of " + name);
            stateAfter[0] = dst.runState();
            return dst.queryMigrate();
        }
    }

    @Test
    void theUndamagedStreamLoads() throws Exception {
        RunState[] st = new RunState[1];
        assertThat(load(stream, "whole.bin", st)).containsEntry("status", "completed");
        assertThat(st[0]).isEqualTo(RunState.PRELAUNCH);
    }

    static LongStream cuts() {
        // every record boundary region of the small head, then seeded offsets through the rest
        SplittableRandom r = new SplittableRandom(SEED);
        List<Long> cuts = new ArrayList<>();
        for (long i = 0; i < 120; i++) {
            cuts.add(i);
        }
        for (int i = 0; i < 40; i++) {
            cuts.add(120 + r.nextLong(Math.max(1, stream.length - 121)));
        }
        for (long i = 1; i <= 700; i += 37) {
            cuts.add(stream.length - i);
        }
        return cuts.stream().mapToLong(Long::longValue);
    }

    @ParameterizedTest(name = "cut at {0}")
    @MethodSource("cuts")
    void aCutStreamFailsAndTheGuestNeverStarts(long cut) throws Exception {
        byte[] part = java.util.Arrays.copyOf(stream, (int) cut);
        RunState[] st = new RunState[1];
        Map<String, Object> info = load(part, "cut-" + cut + ".bin", st);
        assertThat(info).as("seed %d cut %d", SEED, cut).containsEntry("status", "failed");
        assertThat(st[0]).as("run state after a failed load").isEqualTo(RunState.INMIGRATE);
        String desc = (String) info.get("error-desc");
        assertThat(desc).containsAnyOf("ended unexpectedly after " + cut + " bytes", "ended after EOF, before its vmdesc");
        if (cut > 40) {
            // past the header and the ram START header, the error names a section
            assertThat(desc).containsAnyOf("'ram'", "'timer'", "'globalstate'", "EOF");
        }
    }

    @Test
    void aWrongFooterNamesTheSection() throws Exception {
        // the ram START section's footer follows its 16 M block list: find "7e 00000002" after the header
        byte[] bad = stream.clone();
        int footer = -1;
        for (int i = 17; i < 200; i++) {
            if (bad[i] == 0x7e && bad[i + 1] == 0 && bad[i + 2] == 0 && bad[i + 3] == 0 && bad[i + 4] == 2) {
                footer = i;
                break;
            }
        }
        assertThat(footer).as("footer of the ram START section").isPositive();
        bad[footer + 4] = 3;
        RunState[] st = new RunState[1];
        Map<String, Object> info = load(bad, "footer.bin", st);
        assertThat(info).containsEntry("status", "failed");
        assertThat((String) info.get("error-desc")).contains("Mismatched section id in footer for ram - read 0x3 expected 0x2");
        assertThat(st[0]).isEqualTo(RunState.INMIGRATE);
    }
}
