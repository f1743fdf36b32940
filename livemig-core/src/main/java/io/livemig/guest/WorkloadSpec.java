package io.livemig.guest;

import java.util.Locale;

/**
 * One synthetic vCPU load: {@code -workload target=ID,dirty-rate=RATE|max,pattern=…,hotset-size=SIZE,threads=N,seed=S,write-bytes=N}.
 *
 * @param target     idstr of the RAM block written to
 * @param dirtyRate  bytes per second of dirtied pages over all threads, or {@link #UNTHROTTLED}
 * @param pattern    which pages are chosen
 * @param hotsetSize bytes of the hot set (pattern {@code hotset}); the first {@code hotsetSize} bytes of the block
 * @param threads    number of vCPU threads, at least 1
 * @param seed       seed of the page choice and of the data written; the same seed gives the same sequence
 * @param writeBytes bytes rewritten per dirtied page, one contiguous 8-byte aligned run:
 *                   a multiple of 8 in 8..4096 (default {@value #DEFAULT_WRITE_BYTES})
 */
public record WorkloadSpec(String target, long dirtyRate, Pattern pattern, long hotsetSize, int threads, long seed,
                           int writeBytes) {

    /** One 8-byte value per dirtied page. */
    public static final int DEFAULT_WRITE_BYTES = 8;

    /** A spec that writes {@value #DEFAULT_WRITE_BYTES} bytes per dirtied page. */
    public WorkloadSpec(String target, long dirtyRate, Pattern pattern, long hotsetSize, int threads, long seed) {
        this(target, dirtyRate, pattern, hotsetSize, threads, seed, DEFAULT_WRITE_BYTES);
    }

    /** {@code dirty-rate=max}: write as fast as the threads can. */
    public static final long UNTHROTTLED = -1;

    public enum Pattern {
        /** uniform random pages over the whole block */
        RANDOM,
        /** a sweep from page 0 to the end, then again */
        SEQUENTIAL,
        /** uniform random pages within the first {@code hotsetSize} bytes */
        HOTSET;

        public String qapiName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Pattern fromQapi(String s) {
            for (Pattern p : values()) {
                if (p.qapiName().equals(s)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("pattern must be random, sequential or hotset, got '" + s + "'");
        }
    }
}
