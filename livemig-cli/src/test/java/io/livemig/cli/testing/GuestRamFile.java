package io.livemig.cli.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/**
 * Writes a guest RAM file (the {@code mem-path} of a {@code memory-backend-file}) before the guest
 * starts, with content derived from a seed.
 *
 * <p>{@link #fill} writes a mix that makes a migration stream carry both RAM record kinds: random
 * pages and pages of one repeated non-zero byte (both sent as PAGE records) and zero pages (sent as
 * ZERO records). {@link #garbage} writes random bytes only, for a destination whose RAM must be
 * overwritten everywhere, zero pages included, for the files to end up equal.
 */
public final class GuestRamFile {

    public static final int PAGE = 4096;
    private static final int CHUNK_PAGES = 256;

    private GuestRamFile() {
    }

    /** What {@link #fill} wrote, in pages. */
    public record Content(long seed, long randomPages, long zeroPages, long repeatedBytePages) {

        public long nonZeroPages() {
            return randomPages + repeatedBytePages;
        }
    }

    /** Per page, by the seeded generator: 1/2 random, 1/4 zero, 1/4 one repeated byte 1..255. */
    public static Content fill(Path file, long size, long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        long random = 0;
        long zero = 0;
        long repeated = 0;
        byte[] chunk = new byte[CHUNK_PAGES * PAGE];
        byte[] page = new byte[PAGE];
        try (FileChannel ch = open(file)) {
            for (long off = 0; off < size; off += chunk.length) {
                int pages = (int) Math.min(CHUNK_PAGES, (size - off) / PAGE);
                for (int i = 0; i < pages; i++) {
                    int kind = rnd.nextInt(4);
                    switch (kind) {
                        case 0, 1 -> {
                            rnd.nextBytes(page);
                            random++;
                        }
                        case 2 -> {
                            java.util.Arrays.fill(page, (byte) 0);
                            zero++;
                        }
                        default -> {
                            java.util.Arrays.fill(page, (byte) (1 + rnd.nextInt(255)));
                            repeated++;
                        }
                    }
                    System.arraycopy(page, 0, chunk, i * PAGE, PAGE);
                }
                write(ch, chunk, pages * PAGE, off);
            }
        }
        return new Content(seed, random, zero, repeated);
    }

    /** Random bytes everywhere: a destination RAM that nothing in the stream may leave untouched. */
    public static void garbage(Path file, long size, long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] chunk = new byte[CHUNK_PAGES * PAGE];
        try (FileChannel ch = open(file)) {
            for (long off = 0; off < size; off += chunk.length) {
                int len = (int) Math.min(chunk.length, size - off);
                rnd.nextBytes(chunk);
                write(ch, chunk, len, off);
            }
        }
    }

    private static FileChannel open(Path file) throws IOException {
        return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
    }

    private static void write(FileChannel ch, byte[] bytes, int len, long position) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes, 0, len);
        while (b.hasRemaining()) {
            ch.write(b, position + b.position());
        }
    }
}
