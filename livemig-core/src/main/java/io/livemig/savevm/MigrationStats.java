package io.livemig.savevm;

/**
 * The figures {@code query-migrate} reports, QEMU's {@code MigrationStats} and RAM counters.
 * Every figure is a counter or a measurement over a window, never an estimate shown as a fact.
 *
 * <p>Threading: one writer (the migration thread, or the RAM device on it); QMP threads read.
 * Fields are volatile so readers see recent values; compound updates are safe because only one
 * thread writes.
 */
public final class MigrationStats {

    // ---- times (ms) ----
    public volatile long startTimeMs;
    public volatile long setupTimeMs;
    public volatile long totalTimeMs;
    public volatile long downtimeMs;
    public volatile long expectedDowntimeMs;

    // ---- bytes and pages ----
    /** RAM bytes on the stream (records included), QEMU's {@code ram.transferred}. */
    public volatile long ramTransferred;
    public volatile long totalBytes;
    public volatile long duplicatePages;
    public volatile long normalPages;
    public volatile long normalBytes;
    public volatile long precopyBytes;
    public volatile long downtimeBytes;
    public volatile long remainingBytes;
    /** bytes on the multifd channels (included in {@link #ramTransferred}), QEMU's {@code multifd-bytes} */
    public volatile long multifdBytes;

    // ---- rates ----
    public volatile long dirtySyncCount;
    public volatile long dirtyPagesRate;
    public volatile double mbps;
    public volatile long pagesPerSecond;
    /** measured bytes per ms over the last window */
    public volatile double bandwidthBytesPerMs;
    public volatile long thresholdBytes;
    /** Σ pending of the last pass (estimate, or exact when it was computed) */
    public volatile long pendingBytes;
    // ---- XBZRLE (QEMU's xbzrle_counters; shown only with the capability) ----
    /** encoded bytes: XBZRLE records without their 8-byte address word, plus a page per overflow */
    public volatile long xbzrleBytes;
    /** cache hits: pages encoded, whether sent, skipped as unchanged, or overflowed */
    public volatile long xbzrlePages;
    public volatile long xbzrleCacheMiss;
    public volatile double xbzrleCacheMissRate;
    public volatile double xbzrleEncodingRate;
    public volatile long xbzrleOverflow;

    /** the iterative devices of the current migration */
    public volatile java.util.List<DeviceCounters> devices = java.util.List.of();

    /** Resets everything for a new migration. */
    public void reset(long nowMs) {
        startTimeMs = nowMs;
        setupTimeMs = 0;
        totalTimeMs = 0;
        downtimeMs = 0;
        expectedDowntimeMs = 0;
        ramTransferred = 0;
        totalBytes = 0;
        duplicatePages = 0;
        normalPages = 0;
        normalBytes = 0;
        precopyBytes = 0;
        downtimeBytes = 0;
        remainingBytes = 0;
        multifdBytes = 0;
        dirtySyncCount = 0;
        dirtyPagesRate = 0;
        mbps = 0;
        pagesPerSecond = 0;
        bandwidthBytesPerMs = 0;
        thresholdBytes = 0;
        pendingBytes = 0;
        xbzrleBytes = 0;
        xbzrlePages = 0;
        xbzrleCacheMiss = 0;
        xbzrleCacheMissRate = 0;
        xbzrleEncodingRate = 0;
        xbzrleOverflow = 0;
        devices = java.util.List.of();
    }

    /** Pages sent so far (zero and normal), for pages-per-second. */
    public long pagesSent() {
        return duplicatePages + normalPages;
    }
}
