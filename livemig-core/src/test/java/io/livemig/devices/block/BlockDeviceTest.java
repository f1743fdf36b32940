package io.livemig.devices.block;

import io.livemig.savevm.Capability;
import io.livemig.savevm.MigrationCapabilities;
import io.livemig.savevm.RateLimit;
import io.livemig.savevm.SaveStateHandler;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.SectionType;
import io.livemig.stream.StreamException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Block records written by the saver and parsed by the loader: golden bytes, round trips over
 * real mapped image files, resend of chunks written during the migration, the pending report
 * during bulk, and the loader's checks on hostile input.
 */
class BlockDeviceTest {

    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final long seed = new SplittableRandom().nextLong();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    // ---- helpers ----

    private DriveImage image(String id, long size, long contentSeed) throws IOException {
        Path f = dir.resolve(id + ".img");
        byte[] b = new byte[(int) size];
        if (contentSeed != 0) {
            new SplittableRandom(contentSeed).nextBytes(b);
        }
        Files.write(f, b);
        DriveImage d = DriveImage.open(id, f);
        closeables.add(d);
        return d;
    }

    private static MigrationCapabilities blockCap() {
        MigrationCapabilities caps = new MigrationCapabilities();
        caps.set(EnumSet.of(Capability.BLOCK));
        return caps;
    }

    private static final class Stream implements AutoCloseable {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final MigrationOutput out = new MigrationOutput(Channels.newChannel(bytes), 64 * 1024);
        int sections;

        byte[] toBytes() {
            out.flush();
            assertThat(out.hasError()).as("stream error").isFalse();
            return bytes.toByteArray();
        }

        @Override
        public void close() {
            out.flush();
        }
    }

    private static MigrationInput input(byte[] b) {
        return new MigrationInput(Channels.newChannel(new ByteArrayInputStream(b)), 64 * 1024);
    }

    /** A rate limit that lets {@code n} checks pass, then reports the budget spent. */
    private static RateLimit chunks(int n) {
        int[] left = {n};
        return () -> left[0]-- <= 0;
    }

    private static void loadAll(BlockDevice dst, byte[] stream, int sections) throws IOException {
        MigrationInput in = input(stream);
        for (int i = 0; i < sections; i++) {
            dst.loadState(in, BlockRecordDescriptor.VERSION, i == 0 ? SectionType.SECTION_START : SectionType.SECTION_PART);
        }
        assertThat(in.peekU8()).as("the loader consumed exactly the saver's bytes").isEqualTo(-1);
    }

    private static void assertSameImage(DriveImage a, DriveImage b) throws IOException {
        assertThat(MemorySegment.mismatch(a.block().segment(), 0, a.size(), b.block().segment(), 0, b.size()))
                .as("first differing byte of " + a.id()).isEqualTo(-1);
        assertThat(Files.mismatch(a.file(), b.file())).as("image files of " + a.id() + " differ at").isEqualTo(-1);
    }

    // ---- tests ----

    @Test
    void recordsHaveQemusBytes() throws IOException {
        DriveImage d = image("d0", 2 * MiB, 0);
        d.block().fill(0, MiB, (byte) 0xaa);
        d.block().fill(MiB, MiB, (byte) 0xbb);
        BlockDevice dev = new BlockDevice(List.of(d), blockCap());
        Stream s = new Stream();
        dev.saveSetup(s.out);
        assertThat(dev.saveIterate(s.out, RateLimit.UNLIMITED)).isEqualTo(SaveStateHandler.ITERATE_FINISHED);
        dev.saveComplete(s.out);
        byte[] b = s.toBytes();
        HexFormat hex = HexFormat.of();
        byte[] name = {2, 'd', '0'};
        ByteArrayOutputStream want = new ByteArrayOutputStream();
        want.writeBytes(hex.parseHex("0000000000000002"));                 // setup: EOS
        want.writeBytes(hex.parseHex("0000000000000004"));                 // PROGRESS 0 %
        want.writeBytes(hex.parseHex("0000000000000001"));                 // DEVICE_BLOCK sector 0
        want.writeBytes(name);
        want.writeBytes(filled(MiB, 0xaa));
        want.writeBytes(hex.parseHex("0000000000006404"));                 // PROGRESS 50 % (50 << 9 | 4)
        want.writeBytes(hex.parseHex("0000000000100001"));                 // DEVICE_BLOCK sector 2048
        want.writeBytes(name);
        want.writeBytes(filled(MiB, 0xbb));
        want.writeBytes(hex.parseHex("0000000000000002"));                 // iterate: EOS
        want.writeBytes(hex.parseHex("000000000000c804"));                 // complete: PROGRESS 100 %
        want.writeBytes(hex.parseHex("0000000000000002"));                 // EOS
        assertThat(b.length).isEqualTo(want.size());
        assertThat(Arrays.mismatch(b, want.toByteArray())).as("first differing byte").isEqualTo(-1);
        assertThat(BlockRecordDescriptor.deviceBlockLength(2)).isEqualTo(8 + 3 + MiB);
    }

    private static byte[] filled(int n, int v) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) v);
        return b;
    }

    @Test
    void roundTripCopiesEveryDriveIncludingAShortLastChunk() throws IOException {
        long sizeA = 3L * MiB;
        long sizeB = 5L * MiB + 12 * 1024; // the last chunk carries 12 KiB of data and 1 MiB on the wire
        DriveImage srcA = image("a", sizeA, seed);
        DriveImage srcB = image("b", sizeB, seed + 1);
        DriveImage dstA = image("a-dst", sizeA, 0);
        DriveImage dstB = image("b-dst", sizeB, 0);
        BlockDevice src = new BlockDevice(List.of(srcA, srcB), blockCap());
        // the destination knows the drives by the same ids
        BlockDevice dst = new BlockDevice(List.of(renamed(dstA, "a"), renamed(dstB, "b")), new MigrationCapabilities());
        Stream s = new Stream();
        src.saveSetup(s.out);
        int sections = 1;
        int r;
        do {
            r = src.saveIterate(s.out, chunks(2));
            sections++;
            assertThat(sections).as("seed " + seed).isLessThan(100);
        } while (r != SaveStateHandler.ITERATE_FINISHED);
        src.saveComplete(s.out);
        sections++;
        src.saveCleanup();
        byte[] b = s.toBytes();
        long records = 3 + 6; // 3 + 6 chunks
        assertThat((long) b.length).as("seed " + seed).isGreaterThan(records * MiB);
        loadAll(dst, b, sections);
        assertThat(Files.size(dstB.file())).isEqualTo(sizeB);
        assertSameImage(srcA, dstA);
        assertSameImage(srcB, dstB);
    }

    /** A destination drive with id {@code id} mapped on {@code d}'s file. */
    private DriveImage renamed(DriveImage d, String id) throws IOException {
        DriveImage r = DriveImage.open(id, d.file());
        closeables.add(r);
        return r;
    }

    @Test
    void chunksWrittenDuringTheMigrationAreSentAgain() throws IOException {
        long size = 8L * MiB;
        DriveImage src = image("disk0", size, seed);
        DriveImage dst = image("disk0-dst", size, 0);
        BlockDevice dev = new BlockDevice(List.of(src), blockCap());
        BlockDevice load = new BlockDevice(List.of(renamed(dst, "disk0")), new MigrationCapabilities());
        SplittableRandom rnd = new SplittableRandom(seed);
        Stream s = new Stream();
        dev.saveSetup(s.out);
        int sections = 1;
        // bulk: three chunks sent; then write into a sent chunk and into one not yet sent
        dev.saveIterate(s.out, chunks(3));
        sections++;
        src.block().writeLong(100, rnd.nextLong());
        src.block().writeLong(6L * MiB + 8, rnd.nextLong());
        int r;
        do {
            r = dev.saveIterate(s.out, chunks(2));
            sections++;
            // keep writing while the dirty phase runs: a sent chunk and the chunk about to be sent
            src.block().writeLong(rnd.nextLong(size / 8) * 8, rnd.nextLong());
        } while (r != SaveStateHandler.ITERATE_FINISHED && sections < 50);
        assertThat(dev.pendingExact(0)).as("seed " + seed).isEqualTo(MiB); // the last write
        src.block().writeLong(size - 8, rnd.nextLong());
        dev.saveComplete(s.out);
        sections++;
        loadAll(load, s.toBytes(), sections);
        assertSameImage(src, dst);
    }

    @Test
    void pendingDuringBulkExceedsTheThresholdUntilEveryChunkWasSent() throws IOException {
        DriveImage d = image("d", 4L * MiB, seed);
        BlockDevice dev = new BlockDevice(List.of(d), blockCap());
        assertThat(dev.pendingEstimate(0)).as("before setup").isZero();
        Stream s = new Stream();
        dev.saveSetup(s.out);
        assertThat(dev.pendingEstimate(0)).isEqualTo(4L * MiB);
        long threshold = 64L * MiB;
        assertThat(dev.pendingEstimate(threshold)).isEqualTo(threshold + MiB);
        assertThat(dev.pendingExact(threshold)).isEqualTo(threshold + MiB);
        dev.saveIterate(s.out, chunks(4)); // every chunk sent, but the bulk phase is not marked complete yet
        assertThat(dev.pendingExact(threshold)).isEqualTo(threshold + MiB);
        assertThat(dev.saveIterate(s.out, RateLimit.UNLIMITED)).isEqualTo(SaveStateHandler.ITERATE_FINISHED);
        assertThat(dev.pendingExact(threshold)).isZero();
        d.block().writeLong(0, 1);
        d.block().writeLong(8, 1);
        assertThat(dev.pendingEstimate(threshold)).as("estimate does not sync").isZero();
        assertThat(dev.pendingExact(threshold)).isEqualTo(MiB);
    }

    @Test
    void activeOnlyWithTheBlockCapability() throws IOException {
        DriveImage d = image("d", MiB, 0);
        MigrationCapabilities caps = new MigrationCapabilities();
        BlockDevice dev = new BlockDevice(List.of(d), caps);
        assertThat(dev.isActive()).isFalse();
        caps.set(EnumSet.of(Capability.BLOCK));
        assertThat(dev.isActive()).isTrue();
        assertThat(dev.isIterative()).isTrue();
    }

    // ---- hostile input ----

    private static byte[] record(long sector, int flags, String name, int dataBytes) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        MigrationOutput out = new MigrationOutput(Channels.newChannel(b), 8192);
        out.putBe64(BlockRecordDescriptor.word(sector, flags));
        if (name != null) {
            out.putStr8(name);
        }
        out.putBytes(new byte[dataBytes]);
        out.flush();
        return b.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            b.writeBytes(p);
        }
        return b.toByteArray();
    }

    private static final byte[] EOS = record(0, BlockRecordDescriptor.FLAG_EOS, null, 0);

    private BlockDevice loader(long size) throws IOException {
        return new BlockDevice(List.of(image("disk0", size, seed)), new MigrationCapabilities());
    }

    @Test
    void unknownDeviceIsRefusedWithQemusMessage() throws IOException {
        BlockDevice dev = loader(MiB);
        byte[] b = concat(record(0, BlockRecordDescriptor.FLAG_DEVICE_BLOCK, "nope", MiB), EOS);
        assertThatThrownBy(() -> dev.loadState(input(b), 1, SectionType.SECTION_PART))
                .isInstanceOf(StreamException.class).hasMessage("Error unknown block device nope");
    }

    @Test
    void sectorBeyondTheDriveIsRefusedNamingDeviceAndOffset() throws IOException {
        BlockDevice dev = loader(2L * MiB);
        byte[] b = concat(record(4096, BlockRecordDescriptor.FLAG_DEVICE_BLOCK, "disk0", MiB), EOS);
        assertThatThrownBy(() -> dev.loadState(input(b), 1, SectionType.SECTION_PART))
                .isInstanceOf(StreamException.class)
                .hasMessageContaining("sector 4096 (offset 0x200000)")
                .hasMessageContaining("device 'disk0'")
                .hasMessageContaining("4096 sectors");
    }

    @Test
    void truncatedRecordsEndTheLoad() throws IOException {
        BlockDevice dev = loader(MiB);
        byte[] full = concat(record(0, BlockRecordDescriptor.FLAG_DEVICE_BLOCK, "disk0", MiB), EOS);
        for (int cut : new int[] {3, 8, 10, MiB / 2, full.length - 1}) {
            byte[] b = Arrays.copyOf(full, cut);
            assertThatThrownBy(() -> dev.loadState(input(b), 1, SectionType.SECTION_PART))
                    .as("cut at " + cut).isInstanceOf(EOFException.class).hasMessageContaining("ended unexpectedly");
        }
    }

    @Test
    void unknownFlagsVersionAndProgressAreRefused() throws IOException {
        BlockDevice dev = loader(MiB);
        assertThatThrownBy(() -> dev.loadState(input(record(0, 0x10, null, 0)), 1, SectionType.SECTION_PART))
                .isInstanceOf(StreamException.class).hasMessage("Unknown block migration flags: 0x10");
        assertThatThrownBy(() -> dev.loadState(input(EOS), 2, SectionType.SECTION_PART))
                .isInstanceOf(StreamException.class).hasMessageContaining("unsupported section version 2");
        byte[] b = concat(record(101, BlockRecordDescriptor.FLAG_PROGRESS, null, 0), EOS);
        assertThatThrownBy(() -> dev.loadState(input(b), 1, SectionType.SECTION_PART))
                .isInstanceOf(StreamException.class).hasMessageContaining("progress 101");
    }

    @Test
    void zeroBlockCarriesNoDataAndZeroesTheChunk() throws IOException {
        DriveImage d = image("disk0", 2L * MiB + 4096, seed);
        BlockDevice dev = new BlockDevice(List.of(d), new MigrationCapabilities());
        int zeroFlags = BlockRecordDescriptor.FLAG_DEVICE_BLOCK | BlockRecordDescriptor.FLAG_ZERO_BLOCK;
        byte[] b = concat(record(2048, zeroFlags, "disk0", 0), record(4096, zeroFlags, "disk0", 0), EOS);
        MigrationInput in = input(b);
        dev.loadState(in, 1, SectionType.SECTION_PART);
        assertThat(in.peekU8()).isEqualTo(-1);
        MemorySegment seg = d.block().segment();
        assertThat(seg.asSlice(MiB, MiB + 4096).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                .as("seed " + seed).containsOnly((byte) 0);
        assertThat(seg.asSlice(0, MiB).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).as("seed " + seed)
                .isNotEqualTo(new byte[MiB]);
    }

    // ---- drive images ----

    @Test
    void missingImageIsNamed() {
        Path missing = dir.resolve("missing.img");
        assertThatThrownBy(() -> DriveImage.open("disk0", missing)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("-drive id=disk0: Could not open '" + missing + "': No such file or directory");
        assertThat(missing).doesNotExist();
    }

    @Test
    void imageSizeMustBeAMultipleOf4096() throws IOException {
        Path f = dir.resolve("odd.img");
        Files.write(f, "not a sector".getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> DriveImage.open("disk0", f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be a positive multiple of 4096 bytes, got 12");
        Path empty = Files.createFile(dir.resolve("empty.img"));
        assertThatThrownBy(() -> DriveImage.open("disk0", empty)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("got 0");
    }
}
