package io.livemig.savevm;

/**
 * The tunables of {@code migrate-set-parameters}, with QEMU's defaults. Validated at the edge
 * ({@code MigrationParametersCodec}); the fields are volatile because QMP changes them while the
 * migration thread reads them (QEMU applies a new max-bandwidth to a running migration too).
 */
public final class MigrationParameters {

    /** QEMU's {@code MAX_THROTTLE}: 128 MiB/s. */
    public static final long DEFAULT_MAX_BANDWIDTH = 128L << 20;
    /** QEMU's {@code DEFAULT_MIGRATE_SET_DOWNTIME}: 300 ms. */
    public static final long DEFAULT_DOWNTIME_LIMIT_MS = 300;
    /** QEMU's {@code MAX_MIGRATE_DOWNTIME}: 2 000 000 ms. */
    public static final long MAX_DOWNTIME_LIMIT_MS = 2_000_000;

    /** QEMU's {@code DEFAULT_MIGRATE_XBZRLE_CACHE_SIZE}: 64 MiB. */
    public static final long DEFAULT_XBZRLE_CACHE_SIZE = 64L << 20;

    /** livemig's default {@code x-stall-timeout}: 30 s without a byte moving fails the migration. */
    public static final long DEFAULT_STALL_TIMEOUT_MS = 30_000;
    /** {@code x-stall-timeout} bounds: 0 = off, else 100 ms .. 24 h. */
    public static final long MIN_STALL_TIMEOUT_MS = 100;
    public static final long MAX_STALL_TIMEOUT_MS = 86_400_000;

    /** QEMU's {@code DEFAULT_MIGRATE_MULTIFD_CHANNELS}. */
    public static final int DEFAULT_MULTIFD_CHANNELS = 2;
    /** QEMU's {@code DEFAULT_MIGRATE_MULTIFD_ZSTD_LEVEL}. */
    public static final int DEFAULT_MULTIFD_ZSTD_LEVEL = 1;
    /** QEMU's {@code DEFAULT_MIGRATE_MULTIFD_ZLIB_LEVEL}. */
    public static final int DEFAULT_MULTIFD_ZLIB_LEVEL = 1;

    /** 1..255; taken when a migration starts (both sides must agree) */
    private volatile int multifdChannels = DEFAULT_MULTIFD_CHANNELS;
    /** QAPI {@code MultiFDCompression}: none, zlib or zstd; both sides must agree */
    private volatile String multifdCompression = "none";
    /** 0..20 */
    private volatile int multifdZstdLevel = DEFAULT_MULTIFD_ZSTD_LEVEL;
    /** 0..9 */
    private volatile int multifdZlibLevel = DEFAULT_MULTIFD_ZLIB_LEVEL;

    /** bytes; a power of two, at least a page; taken when a migration starts */
    private volatile long xbzrleCacheSize = DEFAULT_XBZRLE_CACHE_SIZE;
    /** bytes per second; 0 = unlimited */
    private volatile long maxBandwidth = DEFAULT_MAX_BANDWIDTH;
    /** milliseconds */
    private volatile long downtimeLimitMs = DEFAULT_DOWNTIME_LIMIT_MS;
    /** bytes per second; 0 = use the measured bandwidth */
    private volatile long availSwitchoverBandwidth;
    /** how a pass shares the stream among iterative devices; taken when a migration starts */
    private volatile IterationPolicy iteratePolicy = IterationPolicy.FAIR;
    /** ms a read or write may block without moving a byte before the migration fails; 0 = never */
    private volatile long stallTimeoutMs = DEFAULT_STALL_TIMEOUT_MS;
    /**
     * Pages a multifd packet carries at most, 1..128; taken when a migration starts. Not a QMP
     * parameter: only the page-path warm-up lowers it (see {@code PagePathWarmup}). The wire is the
     * same either way: every packet has 128 slots and says how many it uses.
     */
    private volatile int multifdPacketPages = io.livemig.multifd.MultifdPacketDescriptor.PAGES_PER_PACKET;

    /** QEMU's {@code tls-creds}: a tls-creds-x509 directory; empty = TLS off; taken when a connection is made */
    private volatile String tlsCreds = "";
    /** QEMU's {@code tls-hostname}: the name the source checks the destination's certificate against; empty = the tcp: host */
    private volatile String tlsHostname = "";
    /**
     * QEMU's {@code tls-authz}: the id of an {@code authz-simple} object the destination checks
     * each client certificate's DN against; empty = any certificate from the CA; taken when a
     * connection is accepted
     */
    private volatile String tlsAuthz = "";

    public String tlsAuthz() {
        return tlsAuthz;
    }

    public void tlsAuthz(String id) {
        this.tlsAuthz = id;
    }

    public String tlsCreds() {
        return tlsCreds;
    }

    public void tlsCreds(String dir) {
        this.tlsCreds = dir;
    }

    public String tlsHostname() {
        return tlsHostname;
    }

    public void tlsHostname(String name) {
        this.tlsHostname = name;
    }

    public int multifdPacketPages() {
        return multifdPacketPages;
    }

    /** @throws IllegalArgumentException unless {@code pages} is 1..128 */
    public void multifdPacketPages(int pages) {
        this.multifdPacketPages = io.livemig.multifd.MultifdPacketDescriptor.checkPacketPages(pages);
    }

    public long stallTimeoutMs() {
        return stallTimeoutMs;
    }

    public void stallTimeoutMs(long ms) {
        this.stallTimeoutMs = ms;
    }

    public long xbzrleCacheSize() {
        return xbzrleCacheSize;
    }

    public void xbzrleCacheSize(long bytes) {
        this.xbzrleCacheSize = bytes;
    }

    public IterationPolicy iteratePolicy() {
        return iteratePolicy;
    }

    public void iteratePolicy(IterationPolicy p) {
        this.iteratePolicy = p;
    }

    public long maxBandwidth() {
        return maxBandwidth;
    }

    public void maxBandwidth(long bytesPerSecond) {
        this.maxBandwidth = bytesPerSecond;
    }

    public long downtimeLimitMs() {
        return downtimeLimitMs;
    }

    public void downtimeLimitMs(long ms) {
        this.downtimeLimitMs = ms;
    }

    public long availSwitchoverBandwidth() {
        return availSwitchoverBandwidth;
    }

    public void availSwitchoverBandwidth(long bytesPerSecond) {
        this.availSwitchoverBandwidth = bytesPerSecond;
    }

    public int multifdChannels() {
        return multifdChannels;
    }

    public void multifdChannels(int n) {
        this.multifdChannels = n;
    }

    /** {@code none}, {@code zlib} or {@code zstd} (QAPI names). */
    public String multifdCompression() {
        return multifdCompression;
    }

    public void multifdCompression(String name) {
        this.multifdCompression = name;
    }

    public int multifdZlibLevel() {
        return multifdZlibLevel;
    }

    public void multifdZlibLevel(int level) {
        this.multifdZlibLevel = level;
    }

    public int multifdZstdLevel() {
        return multifdZstdLevel;
    }

    public void multifdZstdLevel(int level) {
        this.multifdZstdLevel = level;
    }
}
