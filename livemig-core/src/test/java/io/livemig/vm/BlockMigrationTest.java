package io.livemig.vm;

import io.livemig.guest.RunState;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

import static io.livemig.vm.InProcessMigrationTest.assertSameRam;
import static io.livemig.vm.InProcessMigrationTest.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Block migration through the whole engine, two guests in one JVM over TCP: RAM plus a drive
 * that a workload keeps writing during pre-copy; the destination's image file must equal the
 * source's after switchover.
 */
class BlockMigrationTest {

    private static final long MiB = 1L << 20;

    static VmConfig config(long ramSize, Path image, List<WorkloadSpec> workloads, Optional<String> incoming) {
        return new VmConfig(Optional.of("t"), Optional.empty(), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", ramSize, Optional.empty(), false, false)),
                workloads, false, incoming, List.of(), List.of(new VmConfig.DriveSpec("disk0", image)));
    }

    @Test
    @Timeout(120)
    void driveWrittenDuringPrecopyArrivesWhole(@TempDir Path dir) throws Exception {
        long seed = new SplittableRandom().nextLong();
        long ramSize = 32 * MiB;
        long diskSize = 64 * MiB;
        Path srcImage = dir.resolve("src.img");
        Path dstImage = dir.resolve("dst.img");
        writeRandom(srcImage, diskSize, seed);
        try (RandomAccessFile f = new RandomAccessFile(dstImage.toFile(), "rw")) {
            f.setLength(diskSize);
        }
        List<WorkloadSpec> load = List.of(
                new WorkloadSpec("disk0", 4 * MiB, WorkloadSpec.Pattern.RANDOM, 0, 1, seed),
                new WorkloadSpec("mem0", 4 * MiB, WorkloadSpec.Pattern.RANDOM, 0, 1, seed + 1));
        try (VirtualMachine src = VirtualMachine.start(config(ramSize, srcImage, load, Optional.empty()));
             VirtualMachine dst = VirtualMachine.start(config(ramSize, dstImage, List.of(), Optional.of("tcp:127.0.0.1:0")))) {
            await(() -> src.drives().getFirst().block().dirtyLog().countDirty() > 10, Duration.ofSeconds(10),
                    "the drive workload to write (seed " + seed + ")");
            src.setMigrateCapabilities(List.of(Map.of("capability", "block", "state", true)));
            src.setMigrateParameters(Map.of("max-bandwidth", 256 * MiB));
            src.migrate(dst.incomingAddress().orElseThrow().toString());
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(90), "source to finish (seed " + seed + ")");
            assertThat(src.queryMigrate()).as("seed " + seed).containsEntry("status", "completed");
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(10), "destination to finish");
            assertThat(dst.incomingStatus()).isEqualTo(MigrationStatus.COMPLETED);
            assertThat(src.runState()).isEqualTo(RunState.POSTMIGRATE);
            assertThat(dst.runState()).isEqualTo(RunState.RUNNING);
            assertThat(Files.mismatch(srcImage, dstImage)).as("first differing byte of the images, seed " + seed)
                    .isEqualTo(-1L);
            assertSameRam(src, dst);
            Map<?, ?> block = devices(src).stream().filter(d -> "block".equals(d.get("idstr"))).findFirst().orElseThrow();
            assertThat((Long) block.get("transferred")).as("block bytes on the wire").isGreaterThanOrEqualTo(diskSize);
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Map<?, ?>> devices(VirtualMachine vm) {
        return (List<Map<?, ?>>) vm.queryMigrate().get("x-devices");
    }

    static void writeRandom(Path file, long size, long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] buf = new byte[(int) MiB];
        try (var out = Files.newOutputStream(file)) {
            for (long done = 0; done < size; done += buf.length) {
                rnd.nextBytes(buf);
                out.write(buf);
            }
        }
    }
}
