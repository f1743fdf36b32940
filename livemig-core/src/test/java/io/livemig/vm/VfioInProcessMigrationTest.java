package io.livemig.vm;

import io.livemig.guest.RunState;
import io.livemig.guest.WorkloadSpec;
import io.livemig.savevm.MigrationStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

import static io.livemig.vm.InProcessMigrationTest.assertSameRam;
import static io.livemig.vm.InProcessMigrationTest.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * RAM and one vfio-sim migrating between two guests in one JVM, with return-path and
 * switchover-ack on both sides: the device's initial data must move in pre-copy (PART sections)
 * before the destination acks, and the destination's device state must equal the source's.
 */
class VfioInProcessMigrationTest {

    static VmConfig config(long size, List<WorkloadSpec> workloads, Optional<String> incoming, Map<String, String> vfio) {
        return new VmConfig(Optional.of("t"), Optional.empty(), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", size, Optional.empty(), false, false)),
                workloads, false, incoming, List.of(new VmConfig.DeviceSpec("vfio-sim", "vf0", vfio)), List.of());
    }

    @Test
    @Timeout(120)
    void vfioDeviceWithSwitchoverAckCompletesAndTheDestinationStateEqualsTheSource() throws Exception {
        long seed = new SplittableRandom().nextLong();
        System.out.println("seed " + seed);
        long size = 64L << 20;
        long initial = 8L << 20;
        Map<String, String> vfio = Map.of("initial-bytes", Long.toString(initial), "dirty-rate", "2M",
                "stop-copy-bytes", "1M", "seed", Long.toString(seed));
        WorkloadSpec w = new WorkloadSpec("mem0", 8L << 20, WorkloadSpec.Pattern.RANDOM, 0, 1, seed);
        List<Map<String, Object>> caps = List.of(Map.of("capability", "return-path", "state", true),
                Map.of("capability", "switchover-ack", "state", true));
        try (VirtualMachine src = VirtualMachine.start(config(size, List.of(w), Optional.empty(), vfio));
             VirtualMachine dst = VirtualMachine.start(config(size, List.of(), Optional.of("tcp:127.0.0.1:0"), vfio))) {
            src.setMigrateCapabilities(caps);
            dst.setMigrateCapabilities(caps);
            src.setMigrateParameters(Map.of("max-bandwidth", 0L));
            src.migrate(dst.incomingAddress().orElseThrow().toString());
            await(() -> src.outgoingStatus().isFinished(), Duration.ofSeconds(90), "source to finish (seed " + seed + ")");
            Map<String, Object> q = src.queryMigrate();
            assertThat(q).as("seed %d", seed).containsEntry("status", "completed").containsEntry("x-switchover-acked", true);
            await(() -> dst.incomingStatus().isFinished(), Duration.ofSeconds(10), "destination to finish");
            assertThat(dst.incomingStatus()).isEqualTo(MigrationStatus.COMPLETED);
            assertThat(dst.runState()).isEqualTo(RunState.RUNNING);

            @SuppressWarnings("unchecked")
            List<Map<String, Object>> devices = (List<Map<String, Object>>) q.get("x-devices");
            Map<String, Object> vf = devices.stream().filter(d -> "vf0/vfio".equals(d.get("idstr"))).findFirst().orElseThrow();
            assertThat((Long) vf.get("iterations")).as("seed %d", seed).isPositive();
            assertThat((Long) vf.get("transferred")).as("seed %d", seed).isGreaterThanOrEqualTo(initial);

            Object produced = src.qomGet("vf0", "x-bytes-produced");
            assertThat(dst.qomGet("/machine/peripheral/vf0", "x-bytes-loaded")).isEqualTo(produced);
            assertThat((Long) produced).isGreaterThanOrEqualTo(initial + (1L << 20));
            assertThat(dst.qomGet("vf0", "x-state-digest")).as("seed %d", seed).isEqualTo(src.qomGet("vf0", "x-state-digest"));
            assertSameRam(src, dst);
        }
    }

    @Test
    void qomGetErrorsAreQemus() throws Exception {
        try (VirtualMachine vm = VirtualMachine.start(config(1L << 20, List.of(), Optional.empty(), Map.of()))) {
            assertThat(vm.qomGet("vf0", "precopy")).isEqualTo(true);
            assertThat(vm.qomGet("vf0", "initial-bytes")).isEqualTo(1L << 20);
            assertThat(vm.qomGet("vf0", "x-state-digest")).asString().hasSize(64);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> vm.qomGet("nodev", "precopy"))
                    .isInstanceOfSatisfying(VmCommandException.class, e -> {
                        assertThat(e.errorClass()).isEqualTo("DeviceNotFound");
                        assertThat(e.desc()).isEqualTo("Device 'nodev' not found");
                    });
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> vm.qomGet("/machine/peripheral/vf0", "foo"))
                    .isInstanceOfSatisfying(VmCommandException.class, e -> {
                        assertThat(e.errorClass()).isEqualTo("GenericError");
                        assertThat(e.desc()).isEqualTo("Property 'vfio-sim.foo' not found");
                    });
        }
    }

    @Test
    void vfioSectionsRegisterAfterGlobalstateInCommandLineOrder(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        VmConfig c = new VmConfig(Optional.empty(), Optional.empty(), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", 1L << 20, Optional.empty(), false, false)), List.of(), false,
                Optional.empty(), List.of(new VmConfig.DeviceSpec("vfio-sim", "b", Map.of()),
                new VmConfig.DeviceSpec("vfio-sim", "a", Map.of())), List.of());
        java.nio.file.Path file = dir.resolve("state.bin");
        try (VirtualMachine vm = VirtualMachine.start(c)) {
            vm.stop();
            vm.migrate("file:" + file);
            await(() -> vm.outgoingStatus().isFinished(), Duration.ofSeconds(30), "save to finish");
            assertThat(vm.outgoingStatus()).isEqualTo(MigrationStatus.COMPLETED);
        }
        // START headers: type 1, be32 section id, u8 idstr length, idstr; globalstate is section 4
        String stream = new String(java.nio.file.Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1);
        assertThat(stream).contains("\u0001\u0000\u0000\u0000\u0005\u0006b/vfio")
                .contains("\u0001\u0000\u0000\u0000\u0006\u0006a/vfio");
        VmConfig bad = new VmConfig(Optional.empty(), Optional.empty(), "none", "mem0",
                List.of(new VmConfig.MemoryBackend("mem0", 1L << 20, Optional.empty(), false, false)), List.of(), false,
                Optional.empty(), List.of(new VmConfig.DeviceSpec("vfio-sim", "b", Map.of("precopy", "x"))), List.of());
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> VirtualMachine.start(bad))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("vfio-sim 'b': precopy must be on or off, got 'x'");
    }
}
