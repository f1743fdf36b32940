package io.livemig.cli;

import io.livemig.cli.qmp.QmpAddress;
import io.livemig.guest.WorkloadSpec;
import io.livemig.vm.VmConfig;
import io.livemig.vm.VmConfig.MemoryBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VmCommandLineTest {

    private static final long MIB = 1 << 20;

    private static VmCommandLine.Parsed parse(String line) throws UsageException {
        return VmCommandLine.parse(line.isBlank() ? List.of() : Arrays.asList(line.trim().split("\\s+")));
    }

    @Test
    void memoryBackendNamesMainRam() throws Exception {
        VmConfig c = parse("-machine none,memory-backend=mem0 -m 64M -object memory-backend-ram,id=mem0,size=64M -S")
                .config();
        assertThat(c.machine()).isEqualTo("none");
        assertThat(c.memoryBackend()).isEqualTo("mem0");
        assertThat(c.backends()).containsExactly(new MemoryBackend("mem0", 64 * MIB, Optional.empty(), false, false));
        assertThat(c.startPaused()).isTrue();
        assertThat(c.incoming()).isEmpty();
    }

    @Test
    void qmpOnTcpWithoutAHostListensOnLoopbackOnly() throws Exception {
        assertThat(parse("-m 64M -qmp tcp::4444,server=on,wait=off").qmp())
                .containsExactly(new QmpAddress.Tcp("127.0.0.1", 4444));
        assertThat(parse("-m 64M -qmp tcp:0.0.0.0:4444,server=on,wait=off").qmp())
                .containsExactly(new QmpAddress.Tcp("0.0.0.0", 4444));
    }

    @Test
    void warmupIsOnUnlessTurnedOff() throws Exception {
        assertThat(parse("-m 64M").warmup()).isTrue();
        assertThat(parse("-m 64M -x-warmup on").warmup()).isTrue();
        assertThat(parse("-m 64M -x-warmup off").warmup()).isFalse();
        assertThatThrownBy(() -> parse("-m 64M -x-warmup maybe"))
                .hasMessage("livemig vm: -x-warmup: invalid value 'maybe' (use on or off)");
    }

    @Test
    void authzSimpleObjectKeepsItsDnWithDoubledCommas() throws Exception {
        VmCommandLine.Parsed p = parse("-m 64M -object authz-simple,id=auth0,identity=CN=src,,O=Example");
        assertThat(p.objects()).containsExactly(Map.of("qom-type", "authz-simple", "id", "auth0", "identity", "CN=src,O=Example"));
        assertThat(p.config().backends()).hasSize(1);
    }

    @Test
    void workloadMayTargetADrive() throws Exception {
        VmConfig c = parse("-m 64M -drive file=/tmp/d.img,format=raw,if=none,id=disk0"
                + " -workload target=disk0,dirty-rate=8M,pattern=hotset,hotset-size=4M").config();
        assertThat(c.drives()).containsExactly(new VmConfig.DriveSpec("disk0", java.nio.file.Path.of("/tmp/d.img")));
        assertThat(c.workloads()).singleElement().satisfies(w -> {
            assertThat(w.target()).isEqualTo("disk0");
            assertThat(w.dirtyRate()).isEqualTo(8L << 20);
            assertThat(w.hotsetSize()).isEqualTo(4L << 20);
        });
    }

    @Test
    void bareMemoryCreatesTheImplicitRamBlockLikeQemu() throws Exception {
        VmConfig c = parse("-M none -m 128").config();
        assertThat(c.memoryBackend()).isEqualTo("ram");
        assertThat(c.backends()).containsExactly(new MemoryBackend("ram", 128 * MIB, Optional.empty(), false, false));
    }

    @Test
    void noMemoryMeansNoMainRam() throws Exception {
        VmConfig c = parse("-machine none -nodefaults -display none").config();
        assertThat(c.memoryBackend()).isEmpty();
        assertThat(c.backends()).isEmpty();
    }

    @Test
    void fileBackendWorkloadsQmpIncomingNameUuid() throws Exception {
        VmCommandLine.Parsed p = parse("-machine type=none,memory-backend=m -name guest=g1,debug-threads=on"
                + " -uuid 12345678-1234-1234-1234-123456789abc -nographic"
                + " -object memory-backend-file,id=m,size=1G,mem-path=/dev/shm/m,share=on,prealloc=on"
                + " -workload target=m,dirty-rate=10M,pattern=hotset,hotset-size=64M,threads=2,seed=7"
                + " -workload target=m"
                + " -workload target=m,write-bytes=64"
                + " -qmp unix:/tmp/a.sock,server,nowait -qmp tcp:127.0.0.1:4444,server=on,wait=off"
                + " -incoming tcp:0:4446");
        VmConfig c = p.config();
        assertThat(c.name()).contains("g1");
        assertThat(c.uuid()).contains(UUID.fromString("12345678-1234-1234-1234-123456789abc"));
        assertThat(c.backends()).containsExactly(
                new MemoryBackend("m", 1L << 30, Optional.of(Path.of("/dev/shm/m")), true, true));
        assertThat(c.workloads()).containsExactly(
                new WorkloadSpec("m", 10 * MIB, WorkloadSpec.Pattern.HOTSET, 64 * MIB, 2, 7),
                new WorkloadSpec("m", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.RANDOM, 0, 1, 1),
                new WorkloadSpec("m", WorkloadSpec.UNTHROTTLED, WorkloadSpec.Pattern.RANDOM, 0, 1, 1, 64));
        assertThat(p.qmp()).containsExactly(new QmpAddress.Unix(Path.of("/tmp/a.sock")),
                new QmpAddress.Tcp("127.0.0.1", 4444));
        assertThat(c.incoming()).contains("tcp:0:4446");
    }

    @ParameterizedTest
    @CsvSource({
            "64M, 67108864", "64, 67108864", "1G, 1073741824", "2g, 2147483648", "512k, 524288",
            "1.5G, 1610612736", "1T, 1099511627776", "size=32M, 33554432", "4096b, 4096"})
    void memorySizesFollowQemu(String size, long bytes) throws Exception {
        VmConfig c = parse("-m " + size).config();
        assertThat(c.backends().getFirst().size()).isEqualTo(bytes);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "-m 12X | livemig vm: -m: invalid size '12X' (use k, M, G or T suffixes)",
            "-m -1 | livemig vm: -m: invalid size '-1'",
            "-m | livemig vm: -m: requires an argument",
            "-bogus | livemig vm: -bogus: invalid option",
            "-machine pc | livemig vm: -machine: unsupported machine type 'pc' (only 'none')",
            "-machine none,foo=bar | livemig vm: -machine: Invalid parameter 'foo'",
            "-machine none,memory-backend=mem1 -object memory-backend-ram,id=mem0,size=64M"
                    + " | livemig vm: -machine: Memory backend 'mem1' not found",
            "-machine none,memory-backend=m -m 32M -object memory-backend-ram,id=m,size=64M"
                    + " | livemig vm: -m: Machine memory size does not match the size of the memory backend",
            "-uuid zzz | livemig vm: -uuid: invalid UUID 'zzz'",
            "-display gtk | livemig vm: -display: display type 'gtk' is not supported",
            "-object memory-backend-ram,id=m | livemig vm: -object: Parameter 'size' is missing",
            "-object memory-backend-ram,size=1M | livemig vm: -object: Parameter 'id' is missing",
            "-object memory-backend-foo,id=x,size=1M | livemig vm: -object: object type 'memory-backend-foo'",
            "-object memory-backend-ram,id=m,size=1M,prealloc=maybe"
                    + " | livemig vm: -object: Parameter 'prealloc' expects 'on' or 'off'",
            "-object memory-backend-ram,id=m,size=1M,bogus=1 | livemig vm: -object: Invalid parameter 'bogus'",
            "-object memory-backend-file,id=m,size=1M | livemig vm: -object: Parameter 'mem-path' is missing",
            "-object memory-backend-ram,id=m,size=0 | livemig vm: -object: property 'size'",
            "-object memory-backend-ram,id=m,size=1Q | livemig vm: -object: invalid size '1Q'",
            "-object memory-backend-ram,id=m,size=1M -object memory-backend-ram,id=m,size=1M"
                    + " | livemig vm: -object: Duplicate ID 'm' for object",
            "-object authz-simple,id=a | livemig vm: -object: Parameter 'identity' is missing",
            "-object authz-simple,id=a,identity=CN=x,list=y | livemig vm: -object: Invalid parameter 'list'",
            "-object memory-backend-ram,id=a,size=1M -object authz-simple,id=a,identity=CN=x"
                    + " | livemig vm: -object: Duplicate ID 'a' for object",
            "-qmp foo:bar,server=on,wait=off | livemig vm: -qmp: 'foo:bar' is not a valid QMP address",
            "-qmp unix:/tmp/x.sock | livemig vm: -qmp: only server mode is supported",
            "-qmp unix:/tmp/x.sock,server=on | livemig vm: -qmp: wait=on is not supported",
            "-qmp tcp:localhost:99999,server=on,wait=off | livemig vm: -qmp: invalid port '99999'",
            "-incoming foo:bar | livemig vm: -incoming: unknown migration protocol: foo:bar",
            "-m 64M -workload target=nope | livemig vm: -workload: target 'nope' is not a memory backend or a drive",
            "-m 64M -workload target=ram,dirty-rate=fast | livemig vm: -workload: invalid dirty-rate 'fast'",
            "-m 64M -workload target=ram,pattern=zigzag | livemig vm: -workload: pattern must be random",
            "-m 64M -workload target=ram,pattern=hotset | livemig vm: -workload: pattern=hotset needs hotset-size",
            "-m 64M -workload target=ram,pattern=hotset,hotset-size=128M | livemig vm: -workload: invalid hotset-size",
            "-m 64M -workload target=ram,threads=0 | livemig vm: -workload: threads must be an integer 1..1024, got '0'",
            "-m 64M -workload target=ram,seed=x | livemig vm: -workload: seed must be a 64-bit integer, got 'x'",
            "-m 64M -workload target=ram,write-bytes=12 | livemig vm: -workload: write-bytes must be a multiple of 8 in 8..4096, got '12'",
            "-m 64M -workload target=ram,write-bytes=8192 | livemig vm: -workload: write-bytes must be an integer 8..4096, got '8192'",
            "-m 64M -workload target=ram,color=red | livemig vm: -workload: Invalid parameter 'color'",
            "stray | livemig vm: unexpected argument 'stray'"})
    void badCommandLinesNameTheOption(String line, String message) {
        assertThatThrownBy(() -> parse(line)).isInstanceOf(UsageException.class).hasMessageStartingWith(message.trim());
    }

    /**
     * Seeded random command lines assembled from valid fragments in random order must parse to the
     * same config whatever the order; the seed is in the test name so a failure can be replayed.
     */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void optionOrderDoesNotMatter(long seed) throws Exception {
        Random rnd = new Random(seed);
        long mib = 1 + rnd.nextInt(4096);
        long rate = 1 + rnd.nextInt(1000);
        int threads = 1 + rnd.nextInt(8);
        List<List<String>> fragments = new ArrayList<>(List.of(
                List.of("-machine", "none,memory-backend=mem0"),
                List.of("-m", mib + "M"),
                List.of("-object", "memory-backend-ram,id=mem0,size=" + mib + "M,prealloc=" + (rnd.nextBoolean() ? "on" : "off")),
                List.of("-workload", "target=mem0,dirty-rate=" + rate + "k,threads=" + threads + ",seed=" + seed),
                List.of("-name", "vm" + seed),
                List.of("-S")));
        List<String> ordered = fragments.stream().flatMap(List::stream).toList();
        Collections.shuffle(fragments, rnd);
        List<String> shuffled = fragments.stream().flatMap(List::stream).toList();
        VmConfig a = VmCommandLine.parse(ordered).config();
        VmConfig b = VmCommandLine.parse(shuffled).config();
        assertThat(b).as("seed %d: %s", seed, shuffled).isEqualTo(a);
        assertThat(a.backends().getFirst().size()).isEqualTo(mib * MIB);
        assertThat(a.workloads().getFirst()).isEqualTo(
                new WorkloadSpec("mem0", rate * 1024, WorkloadSpec.Pattern.RANDOM, 0, threads, seed));
    }

    /** Seeded random corruption of one size value is always rejected with the option named. */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void corruptSizesAreRejected(long seed) {
        Random rnd = new Random(seed);
        String junk = "XYZQ%#!".charAt(rnd.nextInt(7)) + "" + rnd.nextInt(100);
        String size = rnd.nextInt(1000) + junk;
        assertThatThrownBy(() -> parse("-object memory-backend-ram,id=m,size=" + size))
                .as("seed %d size %s", seed, size)
                .hasMessage("livemig vm: -object: invalid size '" + size + "' (use k, M, G or T suffixes)");
    }

    static Stream<Arguments> seeds() {
        long base = Long.getLong("livemig.test.seed", 20240601L);
        return Stream.iterate(base, s -> s + 1).limit(16).map(Arguments::of);
    }

    @Test
    void commaEscapesInValues() throws Exception {
        VmConfig c = parse("-name a,,b").config();
        assertThat(c.name()).contains("a,b");
    }
}
