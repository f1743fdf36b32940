package io.livemig.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RamBlockTest {

    private static final long SEED = 0xB10CL;

    @TempDir
    Path dir;

    @Test
    void rejectsSizesThatAreNotWholePages() {
        assertThatThrownBy(() -> RamBlock.anonymous("mem0", 1000, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("size of memory backend 'mem0' must be a multiple of 4096, got 1000");
        assertThatThrownBy(() -> RamBlock.anonymous("mem0", 0, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("size of memory backend 'mem0' must be positive, got 0");
        assertThatThrownBy(() -> RamBlock.mappedFile("mem1", -4096, dir.resolve("f"), true, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("size of memory backend 'mem1' must be positive, got -4096");
        assertThatThrownBy(() -> RamBlock.anonymous("", 4096, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be 1..255 bytes, got 0");
        assertThatThrownBy(() -> RamBlock.anonymous("x".repeat(256), 4096, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be 1..255 bytes, got 256");
    }

    @Test
    void anonymousBlockIsZeroedPageAlignedAndSized() {
        try (RamBlock b = RamBlock.anonymous("pc.ram", 16 * 4096, true)) {
            assertThat(b.idstr()).isEqualTo("pc.ram");
            assertThat(b.size()).isEqualTo(65536);
            assertThat(b.pages()).isEqualTo(16);
            assertThat(b.segment().byteSize()).isEqualTo(65536);
            assertThat(b.segment().address() % 4096).isZero();
            assertThat(b.segment().mismatch(MemorySegment.ofArray(new byte[65536]))).isEqualTo(-1);
            assertThat(b.dirtyLog().pages()).isEqualTo(16);
            assertThat(b.dirtyLog().countDirty()).as("prealloc does not dirty").isZero();
        }
    }

    @Test
    void guestWritesMarkEveryTouchedPageAfterWritingData() {
        try (RamBlock b = RamBlock.anonymous("mem", 8 * 4096, false)) {
            b.writeLong(4096 + 8, 0x1122334455667788L);
            assertThat(b.segment().get(ValueLayout.JAVA_LONG, 4096 + 8)).isEqualTo(0x1122334455667788L);
            assertThat(dirtyPages(b)).containsExactly(1);

            b.writeLong(2 * 4096 - 4, -1L); // straddles pages 1 and 2
            assertThat(dirtyPages(b)).containsExactly(1, 2);

            try (Arena a = Arena.ofConfined()) {
                MemorySegment src = a.allocate(4096 + 2);
                src.fill((byte) 7);
                b.write(3 * 4096 - 1, src); // pages 2, 3, 4
                assertThat(b.segment().get(ValueLayout.JAVA_BYTE, 4 * 4096)).isEqualTo((byte) 7);
            }
            assertThat(dirtyPages(b)).containsExactly(2, 3, 4);

            b.fill(5 * 4096, 2 * 4096, (byte) 0x5A);
            assertThat(b.segment().get(ValueLayout.JAVA_BYTE, 7 * 4096 - 1)).isEqualTo((byte) 0x5A);
            assertThat(b.segment().get(ValueLayout.JAVA_BYTE, 7 * 4096)).isZero();
            assertThat(dirtyPages(b)).containsExactly(5, 6);

            b.fill(0, 0, (byte) 1);
            assertThat(dirtyPages(b)).isEmpty();

            b.segment().set(ValueLayout.JAVA_LONG, 0, 42); // raw access: not a guest write
            assertThat(dirtyPages(b)).isEmpty();
        }
    }

    @Test
    void guestWritesOutsideTheBlockFail() {
        try (RamBlock b = RamBlock.anonymous("mem", 4096, false)) {
            assertThatThrownBy(() -> b.writeLong(4090, 1)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> b.fill(-1, 2, (byte) 0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(b.dirtyLog().countDirty()).isZero();
        }
    }

    @Test
    void sharedFileMappingWritesThroughAndExtendsAShortFile() throws IOException {
        Path file = dir.resolve("guest.ram");
        Files.write(file, new byte[] {1, 2, 3});
        try (RamBlock b = RamBlock.mappedFile("mem0", 4 * 4096, file, true, false)) {
            assertThat(Files.size(file)).isEqualTo(4 * 4096);
            assertThat(b.segment().get(ValueLayout.JAVA_BYTE, 2)).isEqualTo((byte) 3);
            b.fill(4096, 4096, (byte) 9);
            byte[] onDisk = Files.readAllBytes(file);
            assertThat(onDisk[4096]).isEqualTo((byte) 9);
            assertThat(onDisk[8191]).isEqualTo((byte) 9);
            assertThat(onDisk[8192]).isZero();
        }
    }

    @Test
    void privateFileMappingLeavesTheFileUnchanged() throws IOException {
        Path file = dir.resolve("template.ram");
        byte[] content = random(3 * 4096);
        Files.write(file, content);
        try (RamBlock b = RamBlock.mappedFile("mem0", 2 * 4096, file, false, true)) {
            assertThat(b.segment().toArray(ValueLayout.JAVA_BYTE))
                    .as("seed %d", SEED).isEqualTo(Arrays.copyOf(content, 2 * 4096));
            b.fill(0, 2 * 4096, (byte) 0);
            assertThat(b.segment().get(ValueLayout.JAVA_BYTE, 100)).isZero();
        }
        assertThat(Files.readAllBytes(file)).as("a longer file is neither truncated nor written, seed %d", SEED)
                .isEqualTo(content);
    }

    @Test
    void preallocKeepsTheContentOfASharedFile() throws IOException {
        Path file = dir.resolve("keep.ram");
        byte[] content = random(4 * 4096);
        Files.write(file, content);
        try (RamBlock b = RamBlock.mappedFile("mem0", 4 * 4096, file, true, true)) {
            assertThat(b.segment().toArray(ValueLayout.JAVA_BYTE)).as("seed %d", SEED).isEqualTo(content);
        }
        assertThat(Files.readAllBytes(file)).as("seed %d", SEED).isEqualTo(content);
    }

    @Test
    void closeReleasesTheMemoryAndIsIdempotent() {
        RamBlock b = RamBlock.anonymous("mem", 4096, false);
        b.close();
        b.close();
        assertThatThrownBy(() -> b.writeLong(0, 1)).isInstanceOf(IllegalStateException.class);
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new SplittableRandom(SEED).nextBytes(b);
        return b;
    }

    /** Harvests the block's log and returns the dirty page numbers. */
    private static long[] dirtyPages(RamBlock b) {
        long[] bitmap = new long[(int) DirtyLog.wordsFor(b.pages())];
        b.dirtyLog().harvest(bitmap);
        return java.util.BitSet.valueOf(bitmap).stream().asLongStream().toArray();
    }

    /** Resident memory of this process, from /proc/self/status (Linux). */
    private static long rssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    @Test
    void anonymousRamTakesMemoryOnlyWhereTouchedAndPreallocTakesItAll() throws IOException {
        long size = 256L << 20;
        long before = rssBytes();
        try (RamBlock lazy = RamBlock.anonymous("lazy", size, false)) {
            long sum = 0;
            for (long off = 0; off < size; off += 4096) {
                sum += lazy.segment().get(ValueLayout.JAVA_LONG, off); // reads map the kernel's zero page
            }
            assertThat(sum).isZero();
            assertThat(rssBytes() - before).as("resident growth after reading an untouched 256 MiB block")
                    .isLessThan(64L << 20);
        }
        long afterLazy = rssBytes();
        try (RamBlock eager = RamBlock.anonymous("eager", size, true)) {
            assertThat(rssBytes() - afterLazy).as("resident growth of a preallocated 256 MiB block (the measure works)")
                    .isGreaterThan(200L << 20);
            assertThat(eager.segment().get(ValueLayout.JAVA_LONG, size - 8)).isZero();
        }
    }

    @Test
    void closingAnAnonymousBlockGivesItsMemoryBack() throws IOException {
        long size = 128L << 20;
        long before = rssBytes();
        for (int i = 0; i < 4; i++) {
            try (RamBlock b = RamBlock.anonymous("gone" + i, size, true)) {
                b.writeLong(size - 8, i);
            }
        }
        assertThat(rssBytes() - before).as("resident growth after making, touching and closing 4 × 128 MiB")
                .isLessThan(64L << 20);
    }
}
