package io.livemig.devices.ram;

import io.livemig.guest.GuestMemory;
import io.livemig.guest.PageSize;
import io.livemig.guest.RamBlock;
import io.livemig.multifd.MultifdSendGroup;
import io.livemig.savevm.MigrationEvents;
import io.livemig.savevm.MigrationStats;
import io.livemig.savevm.RateLimit;
import io.livemig.stream.MigrationOutput;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The source half of RAM migration (QEMU's migration/ram.c, without multifd or postcopy).
 *
 * <p>Algorithm. At setup every page of every block is marked dirty and the guests' dirty logs are
 * emptied. Each iterate sends dirty pages from a cursor that resumes where the previous call
 * stopped and wraps around the block list, until the window's budget is spent, 50 ms have
 * passed ({@code MAX_WAIT}), or no page is dirty. A page's bit is cleared before it is copied:
 * the guest's writes after the last sync are in its dirty log, which the next sync ORs back in,
 * so no write is lost. {@link #sync()} is QEMU's {@code migration_bitmap_sync()}: it moves the
 * dirty logs into the bitmaps and counts the newly dirty pages.
 *
 * <p>Page path: one bitmap scan, one zero check ({@link ZeroPage}), one copy into the stream
 * buffer; no allocation, no lock.
 *
 * <p>XBZRLE (capability {@code xbzrle}): as in QEMU, it starts only after the cursor's first wrap,
 * i.e. once every page has been sent in full, so the cache only ever holds pages the destination
 * has. Zero pages put zeros in the cache; the last stage ({@link #complete}) reads the cache but
 * never changes it. The per-page rules are {@link XbzrleSaver}'s.
 *
 * <p>Multifd (capability {@code multifd}): each dirty page's offset is queued on
 * {@link MultifdSendGroup}, whose sender threads zero-check and copy or compress it; the main stream
 * carries only MEM_SIZE, EOS and, at setup, at each wrap of the cursor and at completion, a
 * {@code MULTIFD_FLUSH} after the channels' sync (QEMU 9.x's default, not per section). Within one
 * round a page is queued at most once (its bit is set again only by a sync, and the cursor does not
 * go back before the wrap), and the flush barrier at the wrap keeps rounds apart on the destination.
 *
 * <p>Threading: the migration thread alone. Statistics are published once per call.
 */
final class RamSaver {

    private static final long MAX_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final int PAGE = PageSize.TARGET_PAGE_SIZE;

    private final List<MigrationBitmap> maps;
    private final byte[][] names;
    private final long totalBytes;
    private final MigrationStats stats;
    private final MigrationEvents events;
    /** RAM-wide address of each block's first byte (QEMU's {@code RAMBlock.offset}), for the XBZRLE cache */
    private final long[] ramBase;
    /** 0 = XBZRLE off, else the cache size; the cache is allocated in {@link #setup} */
    private final long xbzrleCacheBytes;
    private XbzrleSaver xbzrle;
    /** the cursor has wrapped once (QEMU's {@code xbzrle_enabled}) */
    private boolean xbzrleStarted;
    private boolean lastStage;
    /** null without multifd */
    private final MultifdSendGroup multifd;
    private long multifdBytesSeen;
    private long multifdNormalSeen;
    private long multifdZeroSeen;

    private long dirtyPages;
    private int cursorBlock;
    private long cursorPage;
    /** the block of the last record on this channel, for CONTINUE; -1 = none yet */
    private int lastSentBlock = -1;
    // dirty-rate period (QEMU: at least 1 s between rate computations)
    private long periodStartNanos;
    private long periodDirtyPages;
    // per-call counters, published to stats at the end of each call
    private long zeroPages;
    private long normalPages;
    private long xbzrleSent;
    // QEMU's rs->target_page_count and the xbzrle "prev" figures of the last rate period
    private long targetPageCount;
    private long targetPageCountPrev;
    private long xbzrleCacheMissPrev;
    private long xbzrlePagesPrev;
    private long xbzrleBytesPrev;

    /** {@code xbzrleCacheBytes}: 0 = XBZRLE off, else the cache size (validated: a power-of-two number of pages). */
    RamSaver(GuestMemory memory, MigrationStats stats, MigrationEvents events, long xbzrleCacheBytes) {
        this(memory, stats, events, xbzrleCacheBytes, null);
    }

    /** {@code multifd}: the channels of this migration, or null without multifd. */
    RamSaver(GuestMemory memory, MigrationStats stats, MigrationEvents events, long xbzrleCacheBytes,
             MultifdSendGroup multifd) {
        this.multifd = multifd;
        this.maps = memory.blocks().stream().map(MigrationBitmap::new).toList();
        this.names = memory.blocks().stream().map(b -> b.idstr().getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
        this.totalBytes = memory.totalBytes();
        this.stats = stats;
        this.events = events;
        this.xbzrleCacheBytes = xbzrleCacheBytes;
        this.ramBase = new long[maps.size()];
        long base = 0;
        for (int i = 0; i < ramBase.length; i++) {
            ramBase[i] = base;
            base += maps.get(i).block.size();
        }
    }

    /** Setup payload: bitmaps all ones, dirty logs emptied, then the MEM_SIZE block list and EOS. */
    void setup(MigrationOutput out, boolean guestRunning) {
        dirtyPages = 0;
        for (MigrationBitmap m : maps) {
            dirtyPages += m.setAll();
            m.sync(); // empties the log; every bit is already set
        }
        periodStartNanos = System.nanoTime();
        if (xbzrleCacheBytes > 0) {
            xbzrle = new XbzrleSaver(xbzrleCacheBytes);
        }
        stats.totalBytes = totalBytes;
        stats.remainingBytes = dirtyPages * PAGE;
        long before = out.transferred();
        out.putBe64(totalBytes | RamRecordDescriptor.FLAG_MEM_SIZE);
        for (int i = 0; i < maps.size(); i++) {
            out.putU8(names[i].length);
            out.putBytes(names[i]);
            out.putBe64(maps.get(i).block.size());
        }
        multifdFlush(out);
        out.putBe64(RamRecordDescriptor.FLAG_EOS);
        long bytes = out.transferred() - before;
        stats.ramTransferred += bytes;
        if (guestRunning) {
            stats.precopyBytes += bytes;
        } else {
            stats.downtimeBytes += bytes;
        }
    }

    /** One PART payload; returns 1 when no page was dirty, else 0. */
    int iterate(MigrationOutput out, RateLimit limit, boolean guestRunning) {
        long before = out.transferred();
        long start = System.nanoTime();
        boolean done = false;
        int i = 0;
        while (!limit.exceeded()) {
            if (!sendNextDirty(out)) {
                done = true;
                break;
            }
            if ((++i & 63) == 0) {
                // every 64 pages: publish the counters (query-migrate sees progress within a
                // pass, as QEMU's per-page counters) and honour MAX_WAIT
                long now = out.transferred();
                publish(now - before, guestRunning);
                before = now;
                if (System.nanoTime() - start > MAX_WAIT_NANOS) {
                    break;
                }
            }
        }
        if (multifd != null) {
            multifd.dispatch(); // the partial packet goes now: its bytes count in this window
        }
        out.putBe64(RamRecordDescriptor.FLAG_EOS);
        publish(out.transferred() - before, guestRunning);
        return done ? 1 : 0;
    }

    /** END payload: a final sync, every dirty page regardless of the budget, EOS. */
    void complete(MigrationOutput out) {
        long before = out.transferred();
        lastStage = true;
        sync();
        while (sendNextDirty(out)) {
            if (out.hasError()) {
                break;
            }
        }
        multifdFlush(out);
        out.putBe64(RamRecordDescriptor.FLAG_EOS);
        out.flush();
        publish(out.transferred() - before, false);
    }

    /** Frees the XBZRLE cache; called once the migration is over. */
    void cleanup() {
        if (xbzrle != null) {
            xbzrle.close();
            xbzrle = null;
        }
    }

    long pendingBytes() {
        return dirtyPages * PAGE;
    }

    /** QEMU's {@code migration_bitmap_sync()}. */
    void sync() {
        long fresh = 0;
        for (MigrationBitmap m : maps) {
            fresh += m.sync();
        }
        dirtyPages += fresh;
        periodDirtyPages += fresh;
        long count = stats.dirtySyncCount + 1;
        stats.dirtySyncCount = count;
        stats.remainingBytes = dirtyPages * PAGE;
        long now = System.nanoTime();
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(now - periodStartNanos);
        if (elapsedMs >= 1000) {
            stats.dirtyPagesRate = periodDirtyPages * 1000 / elapsedMs;
            updateXbzrleRates();
            periodDirtyPages = 0;
            periodStartNanos = now;
        }
        events.migrationPass(count);
    }

    private boolean sendNextDirty(MigrationOutput out) {
        if (dirtyPages == 0) {
            return false;
        }
        // dirtyPages > 0 guarantees a hit within one full turn of the cursor
        while (true) {
            MigrationBitmap m = maps.get(cursorBlock);
            long page = m.nextDirty(cursorPage);
            if (page >= 0) {
                m.clear(page);
                dirtyPages--;
                cursorPage = page + 1;
                sendPage(out, cursorBlock, m.block, page);
                return true;
            }
            cursorBlock = (cursorBlock + 1) % maps.size();
            cursorPage = 0;
            if (cursorBlock == 0) {
                multifdFlush(out); // QEMU's find_dirty_block: a full round is over
            }
            if (cursorBlock == 0 && xbzrle != null) {
                xbzrleStarted = true; // after the first complete round (QEMU's find_dirty_block)
            }
        }
    }

    private void sendPage(MigrationOutput out, int blockIndex, RamBlock block, long page) {
        MemorySegment seg = block.segment();
        long offset = page * PAGE;
        if (multifd != null) {
            if (!multifd.queuePage(block, names[blockIndex], offset)) {
                multifdFailed(out);
            }
            return;
        }
        boolean useXbzrle = xbzrleStarted;
        if (ZeroPage.isZero(seg, offset)) {
            putHeader(out, blockIndex, offset | RamRecordDescriptor.FLAG_ZERO);
            out.putU8(0);
            zeroPages++;
            if (useXbzrle && !lastStage) {
                xbzrle.zeroPageSent(ramBase[blockIndex] + offset, stats.dirtySyncCount);
            }
            return;
        }
        if (useXbzrle) {
            switch (xbzrle.prepare(seg, offset, ramBase[blockIndex] + offset, stats.dirtySyncCount, lastStage)) {
                case XbzrleSaver.SKIPPED -> {
                    return;
                }
                case XbzrleSaver.ENCODED -> {
                    int header = putHeader(out, blockIndex, offset | RamRecordDescriptor.FLAG_XBZRLE);
                    int len = xbzrle.encodedLength();
                    out.putU8(RamRecordDescriptor.ENCODING_FLAG_XBZRLE);
                    out.putBe16(len);
                    out.putBytes(xbzrle.encoded(), 0, len);
                    // QEMU counts the record without its 8-byte address word (the name, if any, counts)
                    xbzrle.bytes += header - 8 + RamRecordDescriptor.XBZRLE_HEADER_LENGTH + len;
                    xbzrleSent++;
                    return;
                }
                default -> {
                    seg = xbzrle.normalSource();
                    offset = xbzrle.normalOffset();
                }
            }
        }
        long word = page * PAGE | RamRecordDescriptor.FLAG_PAGE;
        if (blockIndex == lastSentBlock) {
            out.putBe64AndSegment(word | RamRecordDescriptor.FLAG_CONTINUE, seg, offset, PAGE);
        } else {
            putHeader(out, blockIndex, word);
            out.putSegment(seg, offset, PAGE);
        }
        normalPages++;
    }

    /** The address word, with CONTINUE if the block is the previous record's, else followed by the name; returns its bytes. */
    private int putHeader(MigrationOutput out, int blockIndex, long word) {
        if (blockIndex == lastSentBlock) {
            out.putBe64(word | RamRecordDescriptor.FLAG_CONTINUE);
            return 8;
        }
        out.putBe64(word);
        putName(out, blockIndex);
        lastSentBlock = blockIndex;
        return 8 + 1 + names[blockIndex].length;
    }

    /** With multifd: sync every channel, then MULTIFD_FLUSH on the main stream (QEMU's multifd_ram_flush_and_sync). */
    private void multifdFlush(MigrationOutput out) {
        if (multifd == null) {
            return;
        }
        if (!multifd.flushAndSync()) {
            multifdFailed(out);
            return;
        }
        out.putBe64(RamRecordDescriptor.FLAG_MULTIFD_FLUSH);
        // The flush must reach the destination now: its receivers wait at their SYNC until it
        // arrives, and the next round's packets fill their sockets meanwhile. Left in the 4 MiB
        // stream buffer, it would deadlock the two sides (found by the hazard test under load).
        out.flush();
    }

    private void multifdFailed(MigrationOutput out) {
        if (!out.hasError()) {
            Throwable t = multifd.error();
            out.setError(t != null ? t : new java.io.IOException("multifd failed"));
        }
    }

    /** QEMU's XBZRLE part of {@code migration_update_rates}: figures over the last rate period. */
    private void updateXbzrleRates() {
        long pageCount = targetPageCount - targetPageCountPrev;
        if (xbzrle == null || pageCount == 0) {
            return;
        }
        stats.xbzrleCacheMissRate = (double) (xbzrle.cacheMiss - xbzrleCacheMissPrev) / pageCount;
        long encodedBytes = xbzrle.bytes - xbzrleBytesPrev;
        long unencodedBytes = (xbzrle.pages - xbzrlePagesPrev) * PAGE;
        stats.xbzrleEncodingRate = xbzrle.pages == xbzrlePagesPrev || encodedBytes == 0
                ? 0 : (double) unencodedBytes / encodedBytes;
        targetPageCountPrev = targetPageCount;
        xbzrleCacheMissPrev = xbzrle.cacheMiss;
        xbzrlePagesPrev = xbzrle.pages;
        xbzrleBytesPrev = xbzrle.bytes;
    }

    private void putName(MigrationOutput out, int blockIndex) {
        out.putU8(names[blockIndex].length);
        out.putBytes(names[blockIndex]);
    }

    private void publish(long bytes, boolean guestRunning) {
        if (multifd != null) {
            long b = multifd.bytes();
            long n = multifd.normalPages();
            long z = multifd.zeroPages();
            bytes += b - multifdBytesSeen;
            stats.multifdBytes += b - multifdBytesSeen;
            normalPages += n - multifdNormalSeen;
            zeroPages += z - multifdZeroSeen;
            multifdBytesSeen = b;
            multifdNormalSeen = n;
            multifdZeroSeen = z;
        }
        stats.ramTransferred += bytes;
        if (guestRunning) {
            stats.precopyBytes += bytes;
        } else {
            stats.downtimeBytes += bytes;
        }
        stats.duplicatePages += zeroPages;
        stats.normalPages += normalPages;
        stats.normalBytes += normalPages * PAGE;
        stats.remainingBytes = dirtyPages * PAGE;
        targetPageCount += zeroPages + normalPages + xbzrleSent;
        if (xbzrle != null) {
            stats.xbzrlePages = xbzrle.pages;
            stats.xbzrleBytes = xbzrle.bytes;
            stats.xbzrleCacheMiss = xbzrle.cacheMiss;
            stats.xbzrleOverflow = xbzrle.overflow;
        }
        zeroPages = 0;
        normalPages = 0;
        xbzrleSent = 0;
    }
}
