package io.livemig.cli.demo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/** The demo's guest RAM files: where to put them, and what to fill them with. */
final class GuestFiles {

    private GuestFiles() {
    }

    /** A fresh directory on tmpfs ({@code /dev/shm}) when it has room for both guests, else in the temp dir. */
    static Path workDir(long guestSize) throws IOException {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)
                && Files.getFileStore(shm).getUsableSpace() > 2 * guestSize + (256L << 20)) {
            return Files.createTempDirectory(shm, "livemig-demo-");
        }
        return Files.createTempDirectory("livemig-demo-");
    }

    /**
     * Writes {@code size} bytes: with {@code mixed}, the first half SplittableRandom(seed) bytes and the
     * second half zero; with {@code random} all random; with {@code zero} a sparse all-zero file.
     */
    static void fill(Path file, long size, String how, long seed) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            long randomBytes = switch (how) {
                case "random" -> size;
                case "mixed" -> size / 2;
                default -> 0;
            };
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            SplittableRandom r = new SplittableRandom(seed);
            long pos = 0;
            while (pos < randomBytes) {
                buf.clear();
                while (buf.remaining() >= 8) {
                    buf.putLong(r.nextLong());
                }
                buf.flip();
                buf.limit((int) Math.min(buf.limit(), randomBytes - pos));
                while (buf.hasRemaining()) {
                    pos += ch.write(buf, pos);
                }
            }
            ch.truncate(size);
            if (ch.size() < size) {
                ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
            }
        }
    }
}
