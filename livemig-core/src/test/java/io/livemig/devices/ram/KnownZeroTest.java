package io.livemig.devices.ram;

import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.SectionType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The destination skips ZERO records for pages it knows still hold the zeros they were created
 * with ({@link RamBlock#knownZero}), and only those: a page an earlier load wrote (even a load
 * cut short), a guest that wrote, a declared raw write, or a file's old content all make the
 * loader check and clear the page again.
 *
 * <p>The skip itself is shown with an undeclared raw write, which a ZERO record then leaves in
 * place: proof that the page was neither read nor written (nothing in livemig writes guest RAM
 * that way; it stands for "the loader did not look").
 */
class KnownZeroTest {

    private static final int PAGE = 4096;
    private static final String BLOCK = "ram0";

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private GuestMemory anonymous(int pages) {
        return guest(RamBlock.anonymous(BLOCK, (long) pages * PAGE, false));
    }

    private GuestMemory guest(RamBlock b) {
        GuestMemory m = new GuestMemory();
        m.add(b);
        closeables.add(m);
        return m;
    }

    /** A RAM section body: records for {@code pages} (null entry = ZERO record), then EOS. */
    private static byte[] stream(byte[]... pages) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] name = BLOCK.getBytes(StandardCharsets.US_ASCII);
        for (int p = 0; p < pages.length; p++) {
            boolean zero = pages[p] == null;
            out.writeBytes(ByteBuffer.allocate(8).putLong((long) p * PAGE | (zero ? 0x02 : 0x08)).array());
            out.write(name.length);
            out.writeBytes(name);
            if (zero) {
                out.write(0);
            } else {
                out.writeBytes(pages[p]);
            }
        }
        out.writeBytes(ByteBuffer.allocate(8).putLong(0x10).array());
        return out.toByteArray();
    }

    private static byte[][] allZero(int pages) {
        return new byte[pages][];
    }

    private static byte[] page(int value) {
        byte[] b = new byte[PAGE];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static void load(GuestMemory m, byte[] stream) throws IOException {
        MigrationInput in = new MigrationInput(Channels.newChannel(new ByteArrayInputStream(stream)), 1 << 16);
        new RamLoader(m).load(in, RamRecordDescriptor.VERSION, SectionType.SECTION_PART);
    }

    private static byte at(GuestMemory m, long offset) {
        return m.find(BLOCK).segment().get(ValueLayout.JAVA_BYTE, offset);
    }

    /** A byte written behind the loader's back, which only a check of the page would clear. */
    private static void undeclared(GuestMemory m, long offset) {
        m.find(BLOCK).segment().set(ValueLayout.JAVA_BYTE, offset, (byte) 0x5a);
    }

    @Test
    void aZeroRecordForAFreshPageReadsAndWritesNothing() throws IOException {
        GuestMemory m = anonymous(4);
        assertThat(m.find(BLOCK).knownZero(3 * PAGE)).isTrue();
        undeclared(m, 3 * PAGE + 100);
        load(m, stream(allZero(4)));
        assertThat(at(m, 3 * PAGE + 100)).as("the skipped page").isEqualTo((byte) 0x5a);
    }

    @Test
    void aPageAnEarlierLoadWroteIsClearedByAZeroRecord() throws IOException {
        GuestMemory m = anonymous(4);
        load(m, stream(null, null, page(7), null));
        assertThat(at(m, 2 * PAGE)).isEqualTo((byte) 7);
        assertThat(m.find(BLOCK).knownZero(2 * PAGE)).isFalse();
        assertThat(m.find(BLOCK).knownZero(PAGE)).isTrue();
        load(m, stream(allZero(4)));
        assertThat(at(m, 2 * PAGE)).isZero();
        assertThat(at(m, 2 * PAGE + PAGE - 1)).isZero();
    }

    @Test
    void aPageWhoseLoadWasCutShortIsClearedByALaterZeroRecord() {
        GuestMemory m = anonymous(4);
        byte[] full = stream(null, page(9), null, null);
        byte[] cut = Arrays.copyOf(full, 8 + 1 + BLOCK.length() + 1 + 8 + 1 + BLOCK.length() + 100);
        assertThatThrownBy(() -> load(m, cut)).isInstanceOf(IOException.class).hasMessageContaining("ended");
        assertThat(m.find(BLOCK).knownZero(PAGE)).as("a partly written page").isFalse();
    }

    @Test
    void aGuestWriteEndsKnownZeroForEveryPage() throws IOException {
        GuestMemory m = anonymous(4);
        RamBlock b = m.find(BLOCK);
        b.writeLong(PAGE, 42);
        assertThat(b.knownZero(3 * PAGE)).isFalse();
        undeclared(m, 3 * PAGE);
        load(m, stream(allZero(4)));
        assertThat(b.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, PAGE)).isZero();
        assertThat(at(m, 3 * PAGE)).isZero();
    }

    @Test
    void aDeclaredRawWriteEndsKnownZero() throws IOException {
        GuestMemory m = anonymous(4);
        m.find(BLOCK).forgetKnownZero();
        undeclared(m, 0);
        load(m, stream(allZero(4)));
        assertThat(at(m, 0)).isZero();
    }

    @Test
    void onlyTheZeroExtensionOfAShorterFileIsKnownZero() throws IOException {
        Path file = dir.resolve("ram");
        Files.write(file, page(3));
        Files.write(file, new byte[PAGE / 2], java.nio.file.StandardOpenOption.APPEND);
        RamBlock b = RamBlock.mappedFile(BLOCK, 4L * PAGE, file, true, false);
        GuestMemory m = guest(b);
        assertThat(b.knownZero(0)).as("the file's old first page").isFalse();
        assertThat(b.knownZero(PAGE)).as("the page holding the old end").isFalse();
        assertThat(b.knownZero(2 * PAGE)).as("the extension").isTrue();
        assertThat(b.knownZero(3 * PAGE)).isTrue();
        load(m, stream(allZero(4)));
        assertThat(at(m, 0)).as("old content under a ZERO record").isZero();
    }

    @Test
    void aFileAsLongAsTheBlockHasNoKnownZeroPage() throws IOException {
        Path file = dir.resolve("ram");
        Files.write(file, new byte[4 * PAGE]);
        RamBlock b = RamBlock.mappedFile(BLOCK, 4L * PAGE, file, false, false);
        guest(b);
        for (int p = 0; p < 4; p++) {
            assertThat(b.knownZero((long) p * PAGE)).isFalse();
        }
    }
}
