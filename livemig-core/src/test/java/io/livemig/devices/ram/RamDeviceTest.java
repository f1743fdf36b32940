package io.livemig.devices.ram;

import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;
import io.livemig.savevm.MigrationEvents;
import io.livemig.savevm.MigrationStats;
import io.livemig.savevm.RateLimit;
import io.livemig.savevm.SaveStateHandler;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.SectionType;
import io.livemig.stream.StreamException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** RAM records written by the saver and parsed by the loader, plus the loader's checks on hostile input. */
class RamDeviceTest {

    private static final int PAGE = 4096;
    private static final io.livemig.savevm.LoadContext NO_ACK = new io.livemig.savevm.LoadContext() {
        @Override
        public boolean has(io.livemig.savevm.Capability c) {
            return false;
        }

        @Override
        public void approveSwitchover() {
            throw new AssertionError("ram never approves switchover");
        }
    };
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private GuestMemory memory(long... sizes) {
        GuestMemory m = new GuestMemory();
        for (int i = 0; i < sizes.length; i++) {
            m.add(RamBlock.anonymous("blk" + i, sizes[i], false));
        }
        closeables.add(m);
        return m;
    }

    private static RamDevice device(GuestMemory m) {
        MigrationEvents none = pass -> { };
        return new RamDevice(m, new MigrationStats(), none, () -> true,
                new io.livemig.savevm.MigrationCapabilities(), new io.livemig.savevm.MigrationParameters());
    }

    /** Fills every other page with seeded random bytes, leaves the rest zero. */
    private static void fill(GuestMemory m, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (RamBlock b : m.blocks()) {
            for (long p = 0; p < b.pages(); p += 2) {
                for (int i = 0; i < PAGE; i += 8) {
                    b.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, p * PAGE + i, r.nextLong());
                }
            }
        }
    }

    /** Fills every page with seeded random bytes, declared as a raw write ({@link RamBlock#forgetKnownZero}). */
    private static void stale(GuestMemory m, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (RamBlock b : m.blocks()) {
            b.forgetKnownZero();
            for (long off = 0; off < b.size(); off += 8) {
                b.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, off, r.nextLong());
            }
        }
    }

    private static byte[] saveAll(RamDevice dev, RateLimit limit) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationOutput out = new MigrationOutput(Channels.newChannel(bytes), 1 << 16);
        try {
            dev.saveSetup(out);
            out.putU8(0xAA); // section boundary marker for the test parser
            int r;
            do {
                r = dev.saveIterate(out, limit);
                out.putU8(0xAA);
            } while (r == SaveStateHandler.ITERATE_MORE);
            dev.saveComplete(out);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        out.flush();
        return bytes.toByteArray();
    }

    private static void loadAll(RamDevice dev, byte[] stream) throws Exception {
        MigrationInput in = new MigrationInput(Channels.newChannel(new ByteArrayInputStream(stream)), 1 << 16);
        dev.loadSetup(NO_ACK);
        dev.loadState(in, 4, SectionType.SECTION_START);
        while (true) {
            assertThat(in.getU8()).isEqualTo(0xAA);
            if (in.peekU8() == -1) {
                throw new AssertionError("no END section");
            }
            // the last section (END) is not followed by a marker
            long before = in.position();
            dev.loadState(in, 4, SectionType.SECTION_PART);
            if (in.peekU8() == -1) {
                return;
            }
            assertThat(in.position()).isGreaterThan(before);
        }
    }

    private static void assertSameMemory(GuestMemory a, GuestMemory b) {
        for (RamBlock x : a.blocks()) {
            RamBlock y = b.find(x.idstr());
            assertThat(MemorySegment.mismatch(x.segment(), 0, x.size(), y.segment(), 0, y.size()))
                    .as("first differing byte of block %s", x.idstr()).isEqualTo(-1);
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3})
    void roundTripCopiesEveryPageAcrossBlocks(long seed) throws Exception {
        GuestMemory src = memory(1 << 20, 64 * PAGE);
        GuestMemory dst = memory(1 << 20, 64 * PAGE);
        fill(src, seed);
        // stale content on the destination must be overwritten, zero pages included
        stale(dst, seed + 100);
        RamDevice saver = device(src);
        byte[] stream = saveAll(saver, RateLimit.UNLIMITED);
        loadAll(device(dst), stream);
        assertSameMemory(src, dst);
    }

    @Test
    void setupSectionIsTheMemSizeBlockList() {
        GuestMemory src = memory(16 * PAGE);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationOutput out = new MigrationOutput(Channels.newChannel(bytes), 1 << 16);
        device(src).saveSetup(out);
        out.flush();
        // be64 (total | MEM_SIZE), str8 "blk0", be64 size, be64 EOS — the layout QEMU writes
        assertThat(HexFormat.of().formatHex(bytes.toByteArray()))
                .isEqualTo("0000000000010004" + "04" + "626c6b30" + "0000000000010000" + "0000000000000010");
    }

    @Test
    void pagesUseContinueAfterTheFirstRecordOfABlock() {
        GuestMemory src = memory(4 * PAGE);
        src.blocks().getFirst().segment().set(ValueLayout.JAVA_BYTE, PAGE, (byte) 1);
        RamDevice dev = device(src);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationOutput out = new MigrationOutput(Channels.newChannel(bytes), 1 << 16);
        dev.saveSetup(out);
        int setupLen = (int) out.transferred();
        dev.saveIterate(out, RateLimit.UNLIMITED);
        out.flush();
        String hex = HexFormat.of().formatHex(bytes.toByteArray()).substring(setupLen * 2);
        // page 0: ZERO + name + fill; page 1: PAGE|CONTINUE; pages 2,3: ZERO|CONTINUE + fill; EOS
        assertThat(hex).startsWith("0000000000000002" + "04626c6b30" + "00" + "0000000000001028");
        assertThat(hex).endsWith("0000000000002022" + "00" + "0000000000003022" + "00" + "0000000000000010");
    }

    @Test
    void rateLimitedIterateStopsAndResumesWhereItLeftOff() throws Exception {
        GuestMemory src = memory(1 << 20);
        GuestMemory dst = memory(1 << 20);
        fill(src, 9);
        RamDevice saver = device(src);
        int[] calls = {0};
        // allow about 10 pages per iterate
        RateLimit limit = () -> ++calls[0] % 11 == 0;
        byte[] stream = saveAll(saver, limit);
        loadAll(device(dst), stream);
        assertSameMemory(src, dst);
    }

    private static byte[] record(String hex) {
        return HexFormat.of().parseHex(hex);
    }

    private void assertLoadFails(String hex, int sectionType, String message) {
        GuestMemory dst = memory(16 * PAGE);
        RamDevice dev = device(dst);
        dev.loadSetup(NO_ACK);
        MigrationInput in = new MigrationInput(Channels.newChannel(new ByteArrayInputStream(record(hex))), 1 << 16);
        assertThatThrownBy(() -> dev.loadState(in, 4, sectionType))
                .isInstanceOf(java.io.IOException.class)
                .hasMessageContaining(message);
    }

    @Test
    void hostileRecordsAreRefusedWithAClearError() {
        assertLoadFails("0000000000010004" + "03666f6f" + "0000000000010000", SectionType.SECTION_START,
                "Unknown ramblock \"foo\", cannot accept migration");
        assertLoadFails("0000000000020004" + "04626c6b30" + "0000000000020000", SectionType.SECTION_START,
                "Length mismatch: blk0: 0x20000 in != 0x10000");
        assertLoadFails("0000000000010008" + "04626c6b30", SectionType.SECTION_PART,
                "Illegal RAM offset 0x10000 in block 'blk0'");
        assertLoadFails("0000000000000002" + "04626c6b30" + "07", SectionType.SECTION_PART,
                "fill byte 0x07, must be 0");
        assertLoadFails("0000000000000028", SectionType.SECTION_PART, "CONTINUE record without a previous block");
        assertLoadFails("0000000000000080", SectionType.SECTION_PART, "Unknown combination of migration flags: 0x80");
        // XBZRLE: wrong encoding byte, length over a page, bad runs; each names the page and block
        assertLoadFails("0000000000001040" + "04626c6b30" + "02" + "0002" + "0101", SectionType.SECTION_PART,
                "Failed to load XBZRLE page at 0x1000 of block 'blk0': wrong compression 0x02");
        assertLoadFails("0000000000001040" + "04626c6b30" + "01" + "1001", SectionType.SECTION_PART,
                "Failed to load XBZRLE page at 0x1000 of block 'blk0': len overflow (4097 > 4096)");
        assertLoadFails("0000000000002040" + "04626c6b30" + "01" + "0002" + "0000", SectionType.SECTION_PART,
                "Failed to load XBZRLE page at 0x2000 of block 'blk0': decode error");
        assertLoadFails("0000000000010040" + "04626c6b30", SectionType.SECTION_PART,
                "Illegal RAM offset 0x10000 in block 'blk0'");
        assertLoadFails("0000000000010004" + "04626c6b30" + "0000000000010000", SectionType.SECTION_PART,
                "outside the setup section");
        assertLoadFails("0000000000000008" + "04626c6b30" + "00", SectionType.SECTION_PART, "ended unexpectedly");
        assertLoadFails("0000000000000008" + "03626c6b", SectionType.SECTION_PART, "Can't find block blk");
    }

    @Test
    void wrongVersionIsRefused() {
        GuestMemory dst = memory(16 * PAGE);
        RamDevice dev = device(dst);
        MigrationInput in = new MigrationInput(Channels.newChannel(new ByteArrayInputStream(record("0000000000000010"))), 1 << 16);
        assertThatThrownBy(() -> dev.loadState(in, 3, SectionType.SECTION_PART))
                .isInstanceOf(StreamException.class).hasMessageContaining("unsupported section version 3");
    }
}
