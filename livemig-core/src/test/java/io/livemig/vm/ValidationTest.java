package io.livemig.vm;

import io.livemig.guest.RamBlock;
import io.livemig.guest.RunState;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static io.livemig.vm.InProcessMigrationTest.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The destination's validation as QEMU does it, each through a whole destination guest and with
 * the message a QEMU user knows: machine type, {@code validate-uuid}, section versions newer than
 * ours, and a RAM layout that differs (unknown block, wrong size). A rejected stream leaves the
 * guest {@code inmigrate}.
 */
@Timeout(120)
class ValidationTest {

    static final UUID A = UUID.fromString("6b9f2c3e-0d51-4f4a-9c1e-2a7d3b8e5f10");
    static final UUID B = UUID.fromString("0f7e6d5c-4b3a-4291-8807-aabbccddeeff");
    static final long SIZE = 256L << 10;

    @TempDir
    Path dir;

    static VmConfig config(String backend, long size, Optional<UUID> uuid, Optional<String> incoming) {
        return new VmConfig(Optional.of("v"), uuid, "none", backend,
                List.of(new VmConfig.MemoryBackend(backend, size, Optional.empty(), false, false)),
                List.of(), false, incoming);
    }

    /** Saves a guest with {@code uuid} (and validate-uuid if asked) to a file; returns its bytes. */
    private byte[] save(Optional<UUID> uuid, boolean validateUuid) throws Exception {
        Path f = dir.resolve("src-" + uuid.map(UUID::toString).orElse("none") + "-" + validateUuid + ".bin");
        try (VirtualMachine src = VirtualMachine.start(config("mem0", SIZE, uuid, Optional.empty()))) {
            RamBlock b = src.memory().find("mem0");
            b.writeLong(8192, 0x1234_5678_9abc_def0L);
            if (validateUuid) {
                src.setMigrateCapabilities(List.of(Map.of("capability", "validate-uuid", "state", true)));
            }
            src.migrate("file:" + f);
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(30), "save");
            assertThat(src.outgoingStatus()).isEqualTo(MigrationStatus.COMPLETED);
        }
        return Files.readAllBytes(f);
    }

    /** Loads {@code stream} into a destination built from {@code config}; returns query-migrate and the run state. */
    private Result load(byte[] stream, VmConfig config) throws Exception {
        Path f = Files.write(dir.resolve("in-" + System.nanoTime() + ".bin"), stream);
        try (VirtualMachine dst = VirtualMachine.start(new VmConfig(config.name(), config.uuid(), config.machine(),
                config.memoryBackend(), config.backends(), config.workloads(), false, Optional.of("file:" + f)))) {
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(30), "load");
            return new Result(dst.queryMigrate(), dst.runState());
        }
    }

    record Result(Map<String, Object> info, RunState state) {
        void failsWith(String message) {
            assertThat(info).containsEntry("status", "failed");
            assertThat((String) info.get("error-desc")).contains(message);
            assertThat(state).as("run state after a rejected stream").isEqualTo(RunState.INMIGRATE);
        }

        void completes() {
            assertThat(info).containsEntry("status", "completed");
            assertThat(state).isEqualTo(RunState.RUNNING);
        }
    }

    private static int indexOf(byte[] b, byte[] p) {
        outer:
        for (int i = 0; i + p.length <= b.length; i++) {
            for (int j = 0; j < p.length; j++) {
                if (b[i + j] != p[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("pattern not found");
    }

    /** The be32 version of the START/FULL section named {@code idstr}, set to {@code version}. */
    private static byte[] withVersion(byte[] s, String idstr, int version) {
        byte[] name = idstr.getBytes(StandardCharsets.US_ASCII);
        byte[] pat = new byte[name.length + 1];
        pat[0] = (byte) name.length;
        System.arraycopy(name, 0, pat, 1, name.length);
        int at = indexOf(s, pat) + pat.length + 4;
        byte[] c = s.clone();
        c[at] = (byte) (version >>> 24);
        c[at + 1] = (byte) (version >>> 16);
        c[at + 2] = (byte) (version >>> 8);
        c[at + 3] = (byte) version;
        return c;
    }

    @Test
    void machineTypeMustMatch() throws Exception {
        byte[] s = save(Optional.empty(), false);
        // header (8) | 0x07 | be32 4 | "none"  ->  "pc-q35-7.2"
        byte[] name = "pc-q35-7.2".getBytes(StandardCharsets.US_ASCII);
        byte[] c = new byte[s.length - 4 + name.length];
        System.arraycopy(s, 0, c, 0, 9);
        c[12] = (byte) name.length;
        System.arraycopy(name, 0, c, 13, name.length);
        System.arraycopy(s, 17, c, 13 + name.length, s.length - 17);
        load(c, config("mem0", SIZE, Optional.empty(), Optional.empty()))
                .failsWith("Machine type received is 'pc-q35-7.2' and local is 'none'");
    }

    @Test
    void validateUuidSendsTheUuidAndAMismatchFails() throws Exception {
        byte[] s = save(Optional.of(A), true);
        assertThat(indexOf(s, "configuration/uuid".getBytes(StandardCharsets.US_ASCII))).isPositive();
        load(s, config("mem0", SIZE, Optional.of(B), Optional.empty()))
                .failsWith("UUID received is " + A + " and local is " + B);
        load(s, config("mem0", SIZE, Optional.of(A), Optional.empty())).completes();
    }

    @Test
    void aDestinationWithoutUuidOnlyWarns() throws Exception {
        load(save(Optional.of(A), true), config("mem0", SIZE, Optional.empty(), Optional.empty())).completes();
    }

    @Test
    void withoutTheCapabilityOrWithoutAUuidNothingIsSentOrChecked() throws Exception {
        byte[] noCap = save(Optional.of(A), false);
        byte[] noUuid = save(Optional.empty(), true);
        for (byte[] s : List.of(noCap, noUuid)) {
            assertThat(new String(s, StandardCharsets.ISO_8859_1)).doesNotContain("configuration/uuid");
            load(s, config("mem0", SIZE, Optional.of(B), Optional.empty())).completes();
        }
    }

    @Test
    void sectionVersionsNewerThanOursFail() throws Exception {
        byte[] s = save(Optional.empty(), false);
        VmConfig dst = config("mem0", SIZE, Optional.empty(), Optional.empty());
        load(withVersion(s, "ram", 5), dst).failsWith("savevm: unsupported version 5 for 'ram' v4");
        load(withVersion(s, "timer", 3), dst).failsWith("savevm: unsupported version 3 for 'timer' v2");
        load(withVersion(s, "globalstate", -1), dst).failsWith("savevm: unsupported version 4294967295 for 'globalstate' v1");
    }

    @Test
    void ramLayoutMustMatch() throws Exception {
        byte[] s = save(Optional.empty(), false);
        load(s, config("mem1", SIZE, Optional.empty(), Optional.empty()))
                .failsWith("Unknown ramblock \"mem0\", cannot accept migration");
        load(s, config("mem0", SIZE * 2, Optional.empty(), Optional.empty()))
                .failsWith("Length mismatch: mem0: 0x40000 in != 0x80000");
    }
}
