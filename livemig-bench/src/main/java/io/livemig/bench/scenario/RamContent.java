package io.livemig.bench.scenario;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Guest RAM content written into the source's {@code mem-path} file before the source starts.
 * Every kind draws from {@code new SplittableRandom(1)}, so every run (livemig or QEMU) migrates
 * the same bytes; every kind writes every byte (zeros too), so the file is never sparse.
 */
public enum RamContent {
    /** {@code nextLong()} for every 8 bytes: no page is zero, nothing compresses. */
    RANDOM,
    /** All zero: every page is a zero page (QEMU's {@code RAM_SAVE_FLAG_ZERO}). */
    ZERO,
    /** Page by page, a coin from the generator: heads a page of random longs, tails a zero page. */
    MIXED,
    /**
     * English-like text that zstd level 1 compresses about 4.8× and no page of which is zero (no
     * byte is): {@link TextPages}. For multifd compression (zstd against none).
     */
    TEXT;

    public static final long SEED = 1;
    private static final int PAGE = 4096;
    private static final int CHUNK = 4 << 20;

    static RamContent byName(String name) {
        for (RamContent c : values()) {
            if (c.label().equals(name.toLowerCase(Locale.ROOT))) {
                return c;
            }
        }
        return null;
    }

    /** {@code random}, {@code zero}, {@code mixed}, {@code text}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Writes {@code size} bytes of this content to {@code file}, replacing what was there. */
    public void fill(Path file, long size) throws IOException {
        SplittableRandom rnd = new SplittableRandom(SEED);
        TextPages text = this == TEXT ? new TextPages(rnd) : null;
        ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long off = 0; off < size; off += CHUNK) {
                int len = (int) Math.min(CHUNK, size - off);
                chunk.clear();
                for (int p = 0; p < len; p += PAGE) {
                    if (text != null) {
                        text.fill(chunk, p, PAGE);
                        continue;
                    }
                    boolean random = switch (this) {
                        case RANDOM -> true;
                        case ZERO -> false;
                        case MIXED -> rnd.nextBoolean();
                        case TEXT -> throw new AssertionError();
                    };
                    for (int i = 0; i < PAGE; i += Long.BYTES) {
                        chunk.putLong(p + i, random ? rnd.nextLong() : 0L);
                    }
                }
                chunk.limit(len);
                long pos = off;
                while (chunk.hasRemaining()) {
                    pos += ch.write(chunk, pos);
                }
            }
        }
    }

    /**
     * Where the first {@code size} bytes of two files differ, or -1 when they are equal. A file
     * shorter than {@code size} differs at its end.
     */
    public static long mismatch(Path a, Path b, long size) throws IOException {
        try (Arena arena = Arena.ofConfined();
             FileChannel ca = FileChannel.open(a, StandardOpenOption.READ);
             FileChannel cb = FileChannel.open(b, StandardOpenOption.READ)) {
            if (ca.size() < size || cb.size() < size) {
                return Math.min(ca.size(), cb.size());
            }
            MemorySegment sa = ca.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            MemorySegment sb = cb.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return MemorySegment.mismatch(sa, 0, size, sb, 0, size);
        }
    }
}
