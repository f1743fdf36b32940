package io.livemig.multifd;

import io.livemig.channel.ChannelWrapper;
import io.livemig.channel.IncomingListener;
import io.livemig.channel.MigrationChannel;
import io.livemig.channel.MigrationUri;
import io.livemig.channel.Transports;
import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Valid multifd channel byte streams, recorded from the real sender ({@link MultifdSendGroup} over
 * unix sockets, plain {@link ChannelWrapper#NONE}) for each compression method: the bytes of every
 * connection (64-byte init packet, then packets) as the destination would read them.
 *
 * <p>What the source sends, on {@value #CHANNELS} channels: round 1 every page of {@code pc.ram}
 * (1 MiB: zero, random and text pages) and of {@code vga.vram} (256 KiB), then
 * {@link MultifdSendGroup#flushAndSync}; round 2 a scattered subset of pages, some rewritten and
 * some zeroed since round 1, then a second sync; then the normal close. So each channel carries
 * full and partial packets of both blocks, zero pages, runs and gaps, and {@value #FLUSHES} SYNCs.
 * The destination guest ({@link #newGuest}) has the same two blocks and a {@code guard} block no
 * seed names, which must stay untouched.
 */
final class MultifdFuzzSeeds {

    static final int CHANNELS = 2;
    static final int FLUSHES = 2;
    static final long RAM_SIZE = 1 << 20;
    static final long VRAM_SIZE = 256 << 10;
    static final long GUARD_SIZE = 64 << 10;
    static final byte GUARD_FILL = (byte) 0xc3;
    static final UUID UUID_SRC = new UUID(0x6b9f0a1e2c3d4e5fL, 0x8a7b6c5d4e3f5f10L);

    private static final int PAGE = MultifdPacketDescriptor.PAGE;
    private static final Duration T = Duration.ofSeconds(10);

    private MultifdFuzzSeeds() {
    }

    /**
     * One recorded migration: per channel id its bytes (init included) and the packet boundaries
     * (start offsets, after the init packet); {@code ram} is the source's final guest content.
     */
    record Seed(MultifdCompression compression, List<byte[]> channels, List<int[]> packets, int flushes,
                byte[] ram, byte[] vram) {
        String name() {
            return compression.qapiName();
        }
    }

    /** The destination guest: {@code pc.ram}, {@code vga.vram} and the {@code guard} block. */
    static GuestMemory newGuest() {
        GuestMemory m = new GuestMemory();
        m.add(RamBlock.anonymous("pc.ram", RAM_SIZE, false));
        m.add(RamBlock.anonymous("vga.vram", VRAM_SIZE, false));
        RamBlock guard = RamBlock.anonymous("guard", GUARD_SIZE, false);
        guard.fill(0, GUARD_SIZE, GUARD_FILL);
        m.add(guard);
        return m;
    }

    static long declaredBytes() {
        return RAM_SIZE + VRAM_SIZE + GUARD_SIZE;
    }

    static List<Seed> build(Path dir) throws Exception {
        List<Seed> seeds = new ArrayList<>();
        int i = 0;
        for (MultifdCompression c : MultifdCompression.values()) {
            seeds.add(record(dir.resolve("mfd-" + (i++) + ".sock"), c, 0x5eed + i));
        }
        return seeds;
    }

    private static Seed record(Path sock, MultifdCompression compression, long rnd) throws Exception {
        SplittableRandom r = new SplittableRandom(rnd);
        try (GuestMemory src = new GuestMemory();
             IncomingListener l = Transports.listen(new MigrationUri.Unix(sock))) {
            RamBlock ram = RamBlock.anonymous("pc.ram", RAM_SIZE, false);
            RamBlock vram = RamBlock.anonymous("vga.vram", VRAM_SIZE, false);
            src.add(ram);
            src.add(vram);
            fillMixed(ram, r);
            fillMixed(vram, r);
            List<CompletableFuture<byte[]>> recorded = new ArrayList<>();
            CompletableFuture<Void> accepted = CompletableFuture.runAsync(() -> {
                try {
                    for (int id = 0; id < CHANNELS; id++) {
                        MigrationChannel ch = l.accept();
                        recorded.add(CompletableFuture.supplyAsync(() -> drain(ch)));
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            int level = compression == MultifdCompression.ZLIB ? 1 : 3;
            MultifdSendGroup g = MultifdSendGroup.open(l.address(), CHANNELS, compression, level, UUID_SRC, T,
                    ChannelWrapper.NONE);
            try {
                accepted.get(10, TimeUnit.SECONDS);
                byte[] ramName = "pc.ram".getBytes(StandardCharsets.US_ASCII);
                byte[] vramName = "vga.vram".getBytes(StandardCharsets.US_ASCII);
                for (long off = 0; off < RAM_SIZE; off += PAGE) {
                    check(g.queuePage(ram, ramName, off));
                }
                for (long off = 0; off < VRAM_SIZE; off += PAGE) {
                    check(g.queuePage(vram, vramName, off));
                }
                check(g.flushAndSync());
                // round 2: some pages change (new text, new random, zeroed) and are sent again, with gaps
                for (long off = 0; off < RAM_SIZE; off += PAGE) {
                    int pick = r.nextInt(8);
                    if (pick == 0 || pick == 1) {
                        fillPage(ram, off, r.nextInt(3), r);
                        check(g.queuePage(ram, ramName, off));
                    } else if (pick == 2) {
                        check(g.queuePage(ram, ramName, off));
                    }
                }
                for (long off = VRAM_SIZE - 8 * PAGE; off < VRAM_SIZE; off += PAGE) {
                    fillPage(vram, off, 1, r);
                    check(g.queuePage(vram, vramName, off));
                }
                check(g.flushAndSync());
            } finally {
                g.close();
            }
            byte[][] byId = new byte[CHANNELS][];
            for (CompletableFuture<byte[]> f : recorded) {
                byte[] b = f.get(10, TimeUnit.SECONDS);
                byId[Byte.toUnsignedInt(b[MultifdPacketDescriptor.INIT_ID_OFFSET])] = b;
            }
            List<byte[]> channels = List.of(byId);
            List<int[]> packets = new ArrayList<>();
            for (byte[] b : channels) {
                packets.add(packetStarts(b));
            }
            return new Seed(compression, channels, packets, FLUSHES, ram.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                    vram.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
    }

    private static void check(boolean ok) {
        if (!ok) {
            throw new IllegalStateException("multifd sender failed while recording a seed");
        }
    }

    private static byte[] drain(MigrationChannel ch) {
        try (ch) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(64 << 10);
            while (ch.in().read(buf) >= 0) {
                out.write(buf.array(), 0, buf.position());
                buf.clear();
            }
            out.write(buf.array(), 0, buf.position());
            return out.toByteArray();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Each page zero, random or text (a third each, seeded). */
    private static void fillMixed(RamBlock b, SplittableRandom r) {
        for (long off = 0; off < b.size(); off += PAGE) {
            fillPage(b, off, r.nextInt(3), r);
        }
    }

    private static void fillPage(RamBlock b, long off, int kind, SplittableRandom r) {
        byte[] page = new byte[PAGE];
        if (kind == 1) {
            r.nextBytes(page);
        } else if (kind == 2) {
            byte[] text = ("page at 0x" + Long.toHexString(off) + " of " + b.idstr() + ": the quick brown fox jumps over "
                    + "the lazy dog; ").getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < PAGE; i++) {
                page[i] = text[i % text.length];
            }
        }
        b.write(off, java.lang.foreign.MemorySegment.ofArray(page));
    }

    /** The start offset of every packet in a channel's bytes (after the init packet). */
    static int[] packetStarts(byte[] b) {
        List<Integer> starts = new ArrayList<>();
        ByteBuffer bb = ByteBuffer.wrap(b);
        int p = MultifdPacketDescriptor.INIT_LENGTH;
        while (p + MultifdPacketDescriptor.HEADER_LENGTH <= b.length) {
            starts.add(p);
            int size = bb.getInt(p + MultifdPacketDescriptor.NEXT_PACKET_SIZE_OFFSET);
            p += MultifdPacketDescriptor.HEADER_LENGTH + size;
        }
        if (p != b.length) {
            throw new IllegalStateException("recorded stream does not end at a packet boundary: " + p + " of " + b.length);
        }
        return starts.stream().mapToInt(Integer::intValue).toArray();
    }
}
