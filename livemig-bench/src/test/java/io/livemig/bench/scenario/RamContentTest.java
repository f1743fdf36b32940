package io.livemig.bench.scenario;

import com.github.luben.zstd.EndDirective;
import com.github.luben.zstd.ZstdCompressCtx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.assertj.core.api.Assertions.assertThat;

/** The {@code text} RAM content: seeded, compressible by zstd as multifd compresses it, never a zero page. */
class RamContentTest {

    private static final long SIZE = 16L << 20;
    private static final int PAGE = 4096;
    /** multifd's packet: 128 pages, compressed as one flushed block of the channel's zstd stream */
    private static final int PACKET = 128 * PAGE;

    @TempDir
    Path dir;

    @Test
    void sameSeedSameBytesAndDifferentFromOtherContents() throws IOException {
        Path a = dir.resolve("a.ram");
        Path b = dir.resolve("b.ram");
        RamContent.TEXT.fill(a, SIZE);
        RamContent.TEXT.fill(b, SIZE);
        assertThat(Files.size(a)).isEqualTo(SIZE);
        assertThat(RamContent.mismatch(a, b, SIZE)).as("two fills, same bytes").isEqualTo(-1);
        RamContent.RANDOM.fill(b, SIZE);
        assertThat(RamContent.mismatch(a, b, SIZE)).isEqualTo(0);
    }

    @Test
    void textIsPrintableNoPageIsZeroAndPagesDiffer() throws IOException {
        Path f = dir.resolve("t.ram");
        RamContent.TEXT.fill(f, SIZE);
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            MemorySegment s = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE, arena);
            for (long i = 0; i < SIZE; i++) {
                byte c = s.get(ValueLayout.JAVA_BYTE, i);
                if (c != '\n' && (c < ' ' || c > '~')) {
                    throw new AssertionError("byte " + i + " is " + c + ", not printable ASCII");
                }
            }
            // no zero page (no zero byte at all, checked above), and pages are not copies of one another
            assertThat(MemorySegment.mismatch(s, 0, PAGE, s, PAGE, 2 * PAGE)).isNotNegative();
            assertThat(MemorySegment.mismatch(s, 0, PAGE, s, SIZE - PAGE, SIZE)).isNotNegative();
            String firstLine = new String(s.asSlice(0, 64).toArray(ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.US_ASCII);
            assertThat(firstLine).matches("[A-Z][a-z]+ .*");
        }
    }

    @Test
    void zstdLevelOneCompressesItFourToSixTimesAsMultifdDoes() throws IOException {
        Path f = dir.resolve("t.ram");
        RamContent.TEXT.fill(f, SIZE);
        long compressed = 0;
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(f, StandardOpenOption.READ);
             ZstdCompressCtx zstd = new ZstdCompressCtx()) {
            zstd.setLevel(1);
            ByteBuffer all = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE, arena).asByteBuffer();
            ByteBuffer src = ByteBuffer.allocateDirect(PACKET);
            ByteBuffer dst = ByteBuffer.allocateDirect(2 * PACKET);
            for (int off = 0; off < SIZE; off += PACKET) {
                src.clear().put(all.slice(off, PACKET)).flip();
                dst.clear();
                while (!zstd.compressDirectByteBufferStream(dst, src, EndDirective.FLUSH)) {
                    // FLUSH returns true once everything is out
                }
                compressed += dst.position();
            }
        }
        double ratio = SIZE / (double) compressed;
        assertThat(ratio).as("zstd level 1 ratio, 512 KiB packets streamed").isBetween(4.0, 6.0);
    }
}
