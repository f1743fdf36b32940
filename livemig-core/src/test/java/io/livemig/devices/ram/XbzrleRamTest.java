package io.livemig.devices.ram;

import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;
import io.livemig.savevm.Capability;
import io.livemig.savevm.LoadContext;
import io.livemig.savevm.MigrationCapabilities;
import io.livemig.savevm.MigrationParameters;
import io.livemig.savevm.MigrationStats;
import io.livemig.savevm.RateLimit;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.SectionType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.Channels;
import java.util.EnumSet;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * RAM migration with the {@code xbzrle} capability, saver and loader in one process: which pass
 * uses XBZRLE records, what the counters say, and that the destination ends equal to the source.
 */
class XbzrleRamTest {

    private static final int PAGE = 4096;
    private static final LoadContext NO_ACK = new LoadContext() {
        @Override
        public boolean has(Capability c) {
            return false;
        }

        @Override
        public void approveSwitchover() {
            throw new AssertionError();
        }
    };

    private final GuestMemory src = new GuestMemory();
    private final GuestMemory dst = new GuestMemory();
    private final MigrationStats stats = new MigrationStats();
    private final ByteArrayOutputStream wire = new ByteArrayOutputStream();
    private final MigrationOutput out = new MigrationOutput(Channels.newChannel(wire), 1 << 16);
    private final Arena arena = Arena.ofConfined();
    private RamDevice saver;
    private RamDevice loader;
    private int loaded;

    @AfterEach
    void close() {
        if (saver != null) {
            saver.saveCleanup();
        }
        src.close();
        dst.close();
        arena.close();
    }

    private void setUp(long seed, long... sizes) {
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < sizes.length; i++) {
            src.add(RamBlock.anonymous("blk" + i, sizes[i], false));
            dst.add(RamBlock.anonymous("blk" + i, sizes[i], false));
        }
        for (RamBlock b : src.blocks()) {
            for (long off = 0; off < b.size(); off += 8) {
                // one page in 8 stays zero
                if ((off / PAGE) % 8 != 7) {
                    b.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, off, r.nextLong());
                }
            }
        }
        MigrationCapabilities caps = new MigrationCapabilities();
        caps.set(EnumSet.of(Capability.XBZRLE));
        MigrationParameters params = new MigrationParameters();
        params.xbzrleCacheSize(4 << 20); // more slots than pages: no collisions
        saver = new RamDevice(src, stats, pass -> { }, () -> true, caps, params);
        loader = new RamDevice(dst, new MigrationStats(), pass -> { }, () -> true,
                new MigrationCapabilities(), new MigrationParameters());
        loader.loadSetup(NO_ACK);
        saver.saveSetup(out);
        load(SectionType.SECTION_START);
    }

    /** Loads what the saver wrote since the last call (one section's payload). */
    private void load(int sectionType) {
        out.flush();
        byte[] all = wire.toByteArray();
        MigrationInput in = new MigrationInput(Channels.newChannel(new ByteArrayInputStream(all, loaded, all.length - loaded)), 1 << 16);
        try {
            loader.loadState(in, 4, sectionType);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertThat(in.position()).as("section payload read whole").isEqualTo(all.length - loaded);
        loaded = all.length;
    }

    /**
     * PART sections until every dirty page went out (usually one; more when a call hit the
     * 50 ms MAX_WAIT, as on a loaded machine); returns their bytes on the wire.
     */
    private long iterate() {
        long before = out.transferred();
        int r;
        do {
            r = saver.saveIterate(out, RateLimit.UNLIMITED);
            load(SectionType.SECTION_PART);
        } while (r == io.livemig.savevm.SaveStateHandler.ITERATE_MORE);
        return out.transferred() - before;
    }

    private long complete() {
        long before = out.transferred();
        saver.saveComplete(out);
        load(SectionType.SECTION_END);
        return out.transferred() - before;
    }

    /** The guest rewrites 64 random bytes at a random 64-byte aligned offset of {@code page}. */
    private void rewrite64(RamBlock b, long page, SplittableRandom r) {
        MemorySegment data = arena.allocate(64);
        for (int i = 0; i < 64; i += 8) {
            data.set(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong() | 1); // never all-equal to the old bytes
        }
        b.write(page * PAGE + 64L * r.nextInt(PAGE / 64), data);
    }

    private void assertSameMemory() {
        for (RamBlock x : src.blocks()) {
            RamBlock y = dst.find(x.idstr());
            assertThat(MemorySegment.mismatch(x.segment(), 0, x.size(), y.segment(), 0, y.size()))
                    .as("first differing byte of block %s", x.idstr()).isEqualTo(-1);
        }
    }

    /** Dirties {@code count} non-zero pages spread over every block, the same pages for the same seed. */
    private int dirtySpread(long seed, int count) {
        SplittableRandom pick = new SplittableRandom(seed);
        SplittableRandom data = new SplittableRandom(seed * 31 + loaded);
        int dirtied = 0;
        for (RamBlock b : src.blocks()) {
            for (long p = 0; p < b.pages() && dirtied < count; p++) {
                if (p % 8 != 7 && pick.nextInt(5) == 0) {
                    rewrite64(b, p, data);
                    dirtied++;
                }
            }
        }
        return dirtied;
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {7, 8, 9})
    void resentPagesGoAsXbzrleRecordsAndTheDestinationEndsEqual(long seed) {
        setUp(seed, 512 * PAGE, 64 * PAGE);
        iterate();
        long firstPassNormal = stats.normalPages;
        assertThat(stats.xbzrlePages).as("seed %d: no XBZRLE before the first wrap", seed).isZero();
        assertThat(stats.xbzrleCacheMiss).as("seed %d: nothing cached before the first wrap", seed).isZero();

        // pass 2 (QEMU's rule: the first pass caches nothing): every dirtied page misses, is cached and goes whole
        int dirtied = dirtySpread(seed, 220);
        saver.pendingExact(0); // sync
        iterate();
        assertThat(stats.xbzrleCacheMiss).as("seed %d", seed).isEqualTo(dirtied);
        assertThat(stats.normalPages).as("seed %d", seed).isEqualTo(firstPassNormal + dirtied);
        assertThat(stats.xbzrlePages).isZero();
        assertSameMemory();

        // pass 3: the same pages change again and go as XBZRLE records
        long normal = stats.normalPages;
        assertThat(dirtySpread(seed, 220)).isEqualTo(dirtied);
        saver.pendingExact(0);
        long bytes = iterate();
        assertThat(stats.normalPages).as("seed %d: no normal page on the third pass", seed).isEqualTo(normal);
        assertThat(stats.xbzrlePages).as("seed %d", seed).isEqualTo(dirtied);
        assertThat(stats.xbzrleCacheMiss).isEqualTo(dirtied);
        assertThat(stats.xbzrleOverflow).isZero();
        // 8-byte address word + flag + be16 + (zrun, nzrun 64 bytes) ≈ 77 bytes per page; EOS; one name per block
        assertThat(bytes).as("seed %d: third pass bytes", seed).isLessThan(dirtied * 80L + 64);
        assertThat(stats.xbzrleBytes).as("seed %d: encoded bytes exclude the address word", seed)
                .isBetween(dirtied * 67L, dirtied * 72L + 20);
        assertSameMemory();

        // last stage: the pages change once more and go as XBZRLE against the cache
        dirtySpread(seed, 220);
        complete();
        assertThat(stats.xbzrlePages).isEqualTo(2L * dirtied);
        assertThat(stats.normalPages).isEqualTo(normal);
        assertSameMemory();
    }

    @Test
    void identicalPagesAreCountedButNotSentAndZeroPagesRefreshTheCache() {
        setUp(11, 64 * PAGE);
        RamBlock b = src.blocks().getFirst();
        iterate();
        // pass 2 caches pages 1, 2 (sent whole) and 7 (zero: cached as zeros)
        rewrite64(b, 1, new SplittableRandom(1));
        rewrite64(b, 2, new SplittableRandom(2));
        b.fill(7L * PAGE, 8, (byte) 0);
        saver.pendingExact(0);
        iterate();
        assertThat(stats.xbzrleCacheMiss).isEqualTo(2);
        long normal = stats.normalPages;
        long zero = stats.duplicatePages;
        // pass 3: page 1 rewritten with its own bytes; page 2 zeroed; page 7 (zero, cached) gets 64 bytes
        MemorySegment same = arena.allocate(64);
        MemorySegment.copy(b.segment(), PAGE, same, 0, 64);
        b.write(PAGE, same);
        b.fill(2L * PAGE, PAGE, (byte) 0);
        rewrite64(b, 7, new SplittableRandom(3));
        saver.pendingExact(0);
        long bytes = iterate();
        // page 1: a hit, nothing sent; page 2: a ZERO record; page 7: a hit on the cached zero page
        assertThat(stats.xbzrlePages).isEqualTo(2);
        assertThat(stats.duplicatePages).isEqualTo(zero + 1);
        assertThat(stats.normalPages).isEqualTo(normal);
        assertThat(stats.xbzrleCacheMiss).isEqualTo(2);
        assertThat(bytes).as("ZERO record + one XBZRLE record + EOS").isLessThan(9 + 6 + 80 + 8);
        assertSameMemory();
        // pass 4: page 2, cached as zeros in pass 3, takes 64 bytes: a hit, not a miss
        rewrite64(b, 2, new SplittableRandom(4));
        saver.pendingExact(0);
        iterate();
        assertThat(stats.xbzrleCacheMiss).isEqualTo(2);
        assertThat(stats.xbzrlePages).isEqualTo(3);
        assertThat(stats.normalPages).isEqualTo(normal);
        complete();
        assertSameMemory();
    }

    @Test
    void aRewrittenPageOverflowsToANormalPage() {
        setUp(12, 16 * PAGE);
        RamBlock b = src.blocks().getFirst();
        iterate();
        rewrite64(b, 3, new SplittableRandom(5));
        saver.pendingExact(0);
        iterate(); // a miss: page 3 is cached
        long normal = stats.normalPages;
        MemorySegment page = arena.allocate(PAGE);
        page.fill((byte) 0x3c);
        b.write(3L * PAGE, page);
        saver.pendingExact(0);
        iterate();
        assertThat(stats.xbzrleOverflow).isEqualTo(1);
        assertThat(stats.xbzrlePages).isEqualTo(1);
        assertThat(stats.xbzrleBytes).as("an overflow counts a page").isEqualTo(PAGE);
        assertThat(stats.normalPages).isEqualTo(normal + 1);
        // the cache took the overflowed page: a small change now encodes against it
        rewrite64(b, 3, new SplittableRandom(6));
        saver.pendingExact(0);
        iterate();
        assertThat(stats.xbzrleOverflow).isEqualTo(1);
        assertThat(stats.xbzrlePages).isEqualTo(2);
        assertThat(stats.normalPages).isEqualTo(normal + 1);
        complete();
        assertSameMemory();
    }

    @Test
    void theLastStageNeitherInsertsNorUpdatesTheCache() {
        try (XbzrleSaver x = new XbzrleSaver(16 * PAGE); Arena a = Arena.ofConfined()) {
            MemorySegment page = a.allocate(PAGE);
            page.fill((byte) 1);
            // a miss in the last stage is sent from the guest page and not inserted
            assertThat(x.prepare(page, 0, 0, 5, true)).isEqualTo(XbzrleSaver.NORMAL);
            assertThat(x.normalSource()).isSameAs(page);
            assertThat(x.prepare(page, 0, 0, 5, true)).isEqualTo(XbzrleSaver.NORMAL);
            assertThat(x.cacheMiss).isEqualTo(2);
            // before the last stage a miss inserts; a hit on a changed page then encodes
            assertThat(x.prepare(page, 0, 0, 5, false)).isEqualTo(XbzrleSaver.NORMAL);
            page.set(ValueLayout.JAVA_BYTE, 100, (byte) 2);
            assertThat(x.prepare(page, 0, 0, 6, true)).isEqualTo(XbzrleSaver.ENCODED);
            int len = x.encodedLength();
            // the last stage left the cache as it was: the same page encodes again, to the same length
            assertThat(x.prepare(page, 0, 0, 6, true)).isEqualTo(XbzrleSaver.ENCODED);
            assertThat(x.encodedLength()).isEqualTo(len);
            // outside the last stage the cache takes it and the next encode is empty
            assertThat(x.prepare(page, 0, 0, 6, false)).isEqualTo(XbzrleSaver.ENCODED);
            assertThat(x.prepare(page, 0, 0, 6, false)).isEqualTo(XbzrleSaver.SKIPPED);
            assertThat(x.pages).isEqualTo(4);
        }
    }
}
