package io.livemig.multifd;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

import static io.livemig.fuzz.Mutator.splice;
import static io.livemig.multifd.MultifdPacketDescriptor.HEADER_LENGTH;
import static io.livemig.multifd.MultifdPacketDescriptor.INIT_LENGTH;
import static io.livemig.multifd.MultifdPacketDescriptor.PAGE;

/**
 * Seeded mutations of recorded multifd migrations ({@link MultifdFuzzSeeds}). A case is a function
 * of its 64-bit seed alone (seed migration, mutation count, each mutation, the connection order,
 * the read size), so the seed a failure prints replays it.
 *
 * <p>Blind: truncation anywhere, bit flips, random chunks inserted. Structure-aware, on packet
 * boundaries: truncation at a packet boundary (a clean end before a SYNC), every header field set
 * to interesting values (magic, version, flags, pages_alloc, normal and zero counts,
 * next_packet_size, packet_num), page offsets outside the block, at its end, unaligned, huge or
 * negative; block names unknown, empty, not NUL-terminated, another block's; compression flags
 * of another or no method; payload size and payload length disagreeing; compressed payloads
 * replaced by garbage; packets duplicated, swapped, moved to another channel, deleted; runs of
 * SYNC packets (up to 1000); init packets damaged (magic, version, id out of range or repeated,
 * truncated); connections dropped, doubled, or a channel from another compression method; the
 * main stream's flush count changed (fewer, more, none).
 */
final class MultifdMutator {

    static final long[] INTERESTING = {0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x7fff, 0x8000, 0xffff,
            0x10000, 0x3ffff, 0x40000, 0x7fffffffL, 0x80000000L, 0xffffffffL, 0x100000000L, 0x7fffffffffffffffL,
            0x8000000000000000L, -1L, -2L, -PAGE, 127, 128, 129, 256, PAGE * 128L, PAGE * 128L + 1, 2L * 512 * 1024,
            2L * 512 * 1024 + 1, 0x11223344, 1L << 40};

    private static final String[] NAMES = {"nosuch", "", "pc.ra", "pc.ram ", "PC.RAM", "vga.vram", "pc.ram",
            "a".repeat(255), "mem0", "pc.ram\u0000guard"};

    private final List<MultifdFuzzSeeds.Seed> seeds;

    MultifdMutator(List<MultifdFuzzSeeds.Seed> seeds) {
        this.seeds = seeds;
    }

    record Case(long seed, String base, MultifdFuzzHarness.Input input, String what) {
    }

    Case mutate(long caseSeed) {
        SplittableRandom r = new SplittableRandom(caseSeed);
        MultifdFuzzSeeds.Seed s = seeds.get(r.nextInt(seeds.size()));
        List<byte[]> chans = new ArrayList<>(s.channels());
        byte[] main = MultifdFuzzHarness.mainStream();
        int[] flushes = {s.flushes()};
        List<String> what = new ArrayList<>();
        List<byte[]> extra = new ArrayList<>();
        boolean[] mainDropped = {false};
        int n = 1 + (r.nextInt(4) == 0 ? 1 + r.nextInt(3) : 0);
        for (int i = 0; i < n; i++) {
            one(r, chans, flushes, what, extra, mainDropped);
        }
        List<byte[]> conns = new ArrayList<>(chans);
        if (!mainDropped[0]) {
            conns.add(main);
        }
        conns.addAll(extra);
        Collections.shuffle(conns, new java.util.Random(r.nextLong()));
        int chunk = new int[] {1 << 20, 1 << 20, 1 << 20, 65536, 4096, 1000, 61}[r.nextInt(7)];
        boolean scattering = r.nextBoolean();
        return new Case(caseSeed, s.name(), new MultifdFuzzHarness.Input(s.compression(), MultifdFuzzSeeds.CHANNELS,
                conns, flushes[0], chunk, scattering), String.join("; ", what));
    }

    /** Only the init packets: each connection carries its (maybe damaged) init packet and nothing else. */
    Case mutateInit(long caseSeed) {
        SplittableRandom r = new SplittableRandom(caseSeed);
        MultifdFuzzSeeds.Seed s = seeds.get(r.nextInt(seeds.size()));
        List<byte[]> conns = new ArrayList<>();
        for (byte[] c : s.channels()) {
            conns.add(Arrays.copyOf(c, INIT_LENGTH));
        }
        List<String> what = new ArrayList<>();
        int n = 1 + (r.nextInt(3) == 0 ? 1 : 0);
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(conns.size());
            if (conns.get(c).length < INIT_LENGTH) {
                continue; // already truncated
            }
            conns.set(c, damageInit(r, conns.get(c), what));
            what.set(what.size() - 1, "connection " + c + ": " + what.getLast());
        }
        if (r.nextInt(8) == 0) {
            conns.add(MultifdFuzzHarness.mainStream());
            what.add("a second main connection");
        }
        conns.add(MultifdFuzzHarness.mainStream());
        Collections.shuffle(conns, new java.util.Random(r.nextLong()));
        return new Case(caseSeed, s.name() + "-init", new MultifdFuzzHarness.Input(s.compression(),
                MultifdFuzzSeeds.CHANNELS, conns, 0, r.nextBoolean() ? 64 : 1 + r.nextInt(8), r.nextBoolean()),
                String.join("; ", what));
    }

    private static byte[] damageInit(SplittableRandom r, byte[] init, List<String> what) {
        byte[] b = init.clone();
        ByteBuffer bb = ByteBuffer.wrap(b);
        switch (r.nextInt(9)) {
            case 0 -> {
                int cut = r.nextInt(INIT_LENGTH);
                what.add("init truncated to " + cut);
                return Arrays.copyOf(b, cut);
            }
            case 1 -> {
                int v = (int) INTERESTING[r.nextInt(INTERESTING.length)];
                if (r.nextInt(3) == 0) {
                    v = io.livemig.stream.StreamHeaderDescriptor.MAGIC;
                }
                bb.putInt(0, v);
                what.add("init magic " + Integer.toHexString(v));
            }
            case 2 -> {
                int v = (int) INTERESTING[r.nextInt(INTERESTING.length)];
                bb.putInt(4, v);
                what.add("init version " + v);
            }
            case 3 -> {
                int v = r.nextBoolean() ? r.nextInt(4) : r.nextInt(256);
                b[MultifdPacketDescriptor.INIT_ID_OFFSET] = (byte) v;
                what.add("init id " + v);
            }
            case 4 -> {
                for (int i = 8; i < 24; i++) {
                    b[i] = (byte) r.nextInt(256);
                }
                what.add("init uuid random");
            }
            case 5 -> {
                for (int i = 25; i < 64; i++) {
                    b[i] = (byte) r.nextInt(256);
                }
                what.add("init padding and unused random");
            }
            case 6 -> {
                int flips = 1 + r.nextInt(6);
                for (int i = 0; i < flips; i++) {
                    int p = r.nextInt(b.length);
                    b[p] ^= (byte) (1 << r.nextInt(8));
                }
                what.add(flips + " bit flips in the init packet");
            }
            case 7 -> {
                r.nextBytes(b);
                what.add("init random");
            }
            default -> {
                byte[] longer = Arrays.copyOf(b, INIT_LENGTH + 1 + r.nextInt(HEADER_LENGTH));
                what.add("init followed by " + (longer.length - INIT_LENGTH) + " zero bytes");
                return longer;
            }
        }
        return b;
    }

    private void one(SplittableRandom r, List<byte[]> chans, int[] flushes, List<String> what, List<byte[]> extra,
                     boolean[] mainDropped) {
        int c = r.nextInt(chans.size());
        byte[] b = chans.get(c);
        int[] starts = starts(b);
        String on = "channel " + c + ": ";
        int op = r.nextInt(24);
        boolean whole = op == 0 || op == 3 || op == 17 || op == 18 || op == 19 || op == 21;
        if ((starts.length == 0 && !whole) || (b.length < INIT_LENGTH && op != 18 && op != 19 && op != 21)) {
            // no whole packet (or not even an init packet) left: append bytes instead
            chans.set(c, concat(b, bytes(r, 1 + r.nextInt(HEADER_LENGTH + 8))));
            what.add(on + "random bytes appended");
            return;
        }
        int k = starts.length == 0 ? 0 : r.nextInt(starts.length);
        int at = starts.length == 0 ? INIT_LENGTH : starts[k];
        switch (op) {
            case 0 -> {
                int cut = r.nextInt(b.length);
                chans.set(c, Arrays.copyOf(b, cut));
                what.add(on + "truncated at " + cut);
            }
            case 1 -> {
                chans.set(c, Arrays.copyOf(b, at));
                what.add(on + "truncated before packet " + k);
            }
            case 2 -> {
                byte[] m = b.clone();
                int flips = 1 + r.nextInt(8);
                for (int i = 0; i < flips; i++) {
                    int p = at + (r.nextBoolean() ? r.nextInt(64) : r.nextInt(HEADER_LENGTH));
                    if (p < m.length) {
                        m[p] ^= (byte) (1 << r.nextInt(8));
                    }
                }
                chans.set(c, m);
                what.add(on + flips + " bit flips in header " + k);
            }
            case 3 -> {
                byte[] m = b.clone();
                int flips = 1 + r.nextInt(8);
                for (int i = 0; i < flips; i++) {
                    m[r.nextInt(m.length)] ^= (byte) (1 << r.nextInt(8));
                }
                chans.set(c, m);
                what.add(on + flips + " bit flips anywhere");
            }
            case 4, 5 -> {
                int[] fields = {MultifdPacketDescriptor.MAGIC_OFFSET, MultifdPacketDescriptor.VERSION_OFFSET,
                        MultifdPacketDescriptor.FLAGS_OFFSET, MultifdPacketDescriptor.PAGES_ALLOC_OFFSET,
                        MultifdPacketDescriptor.NORMAL_PAGES_OFFSET, MultifdPacketDescriptor.NEXT_PACKET_SIZE_OFFSET,
                        MultifdPacketDescriptor.ZERO_PAGES_OFFSET, 36};
                int f = fields[r.nextInt(fields.length)];
                long v = r.nextInt(3) == 0 ? ByteBuffer.wrap(b).getInt(at + f) + (r.nextBoolean() ? 1 : -1)
                        : INTERESTING[r.nextInt(INTERESTING.length)];
                byte[] m = b.clone();
                ByteBuffer.wrap(m).putInt(at + f, (int) v);
                chans.set(c, m);
                what.add(on + "packet " + k + " be32 at " + f + " = 0x" + Integer.toHexString((int) v));
            }
            case 6 -> {
                byte[] m = b.clone();
                long v = INTERESTING[r.nextInt(INTERESTING.length)];
                ByteBuffer.wrap(m).putLong(at + MultifdPacketDescriptor.PACKET_NUM_OFFSET, v);
                chans.set(c, m);
                what.add(on + "packet " + k + " packet_num = " + v);
            }
            case 7, 8 -> {
                ByteBuffer h = ByteBuffer.wrap(b);
                int used = Math.max(1, h.getInt(at + MultifdPacketDescriptor.NORMAL_PAGES_OFFSET)
                        + h.getInt(at + MultifdPacketDescriptor.ZERO_PAGES_OFFSET));
                used = Math.min(Math.max(used, 1), MultifdPacketDescriptor.PAGES_PER_PACKET);
                int slot = Math.floorMod(r.nextInt(used + 2), MultifdPacketDescriptor.PAGES_PER_PACKET);
                long size = MultifdFuzzSeeds.RAM_SIZE;
                long[] offs = {size, size - PAGE, size - PAGE + 1, size - 1, MultifdFuzzSeeds.VRAM_SIZE,
                        MultifdFuzzSeeds.VRAM_SIZE - PAGE, 1, PAGE + 8, 1L << 40, -1, -PAGE, Long.MIN_VALUE,
                        0x7ffffffffffff000L, size + MultifdFuzzSeeds.GUARD_SIZE};
                long v = r.nextInt(4) == 0 ? INTERESTING[r.nextInt(INTERESTING.length)] : offs[r.nextInt(offs.length)];
                byte[] m = b.clone();
                ByteBuffer.wrap(m).putLong(at + MultifdPacketDescriptor.offsetOfPage(slot), v);
                chans.set(c, m);
                what.add(on + "packet " + k + " offset[" + slot + "] = 0x" + Long.toHexString(v));
            }
            case 9 -> {
                String name = NAMES[r.nextInt(NAMES.length)];
                byte[] m = b.clone();
                byte[] nb = name.getBytes(StandardCharsets.UTF_8);
                boolean noNul = r.nextInt(4) == 0;
                for (int i = 0; i < MultifdPacketDescriptor.RAMBLOCK_LENGTH; i++) {
                    byte v = i < nb.length ? nb[i] : noNul ? (byte) 'x' : 0;
                    m[at + MultifdPacketDescriptor.RAMBLOCK_OFFSET + i] = v;
                }
                chans.set(c, m);
                what.add(on + "packet " + k + " ramblock '" + name.replace("\u0000", "\\0") + "'" + (noNul ? " without NUL" : ""));
            }
            case 10 -> {
                int[] methods = {0, MultifdPacketDescriptor.FLAG_ZLIB, MultifdPacketDescriptor.FLAG_ZSTD, 3 << 1,
                        MultifdPacketDescriptor.FLAG_COMPRESSION_MASK, 1 << 6, 1 << 31};
                int v = methods[r.nextInt(methods.length)];
                byte[] m = b.clone();
                ByteBuffer mb = ByteBuffer.wrap(m);
                int flags = mb.getInt(at + MultifdPacketDescriptor.FLAGS_OFFSET);
                flags = (flags & MultifdPacketDescriptor.FLAG_SYNC) | v | (r.nextInt(4) == 0 ? MultifdPacketDescriptor.FLAG_SYNC : 0);
                mb.putInt(at + MultifdPacketDescriptor.FLAGS_OFFSET, flags);
                chans.set(c, m);
                what.add(on + "packet " + k + " flags = 0x" + Integer.toHexString(flags));
            }
            case 11 -> {
                ByteBuffer h = ByteBuffer.wrap(b);
                int size = h.getInt(at + MultifdPacketDescriptor.NEXT_PACKET_SIZE_OFFSET);
                int[] deltas = {1, -1, PAGE, -PAGE, 7, -size, 512 * 1024};
                int d = deltas[r.nextInt(deltas.length)];
                byte[] m = b.clone();
                ByteBuffer.wrap(m).putInt(at + MultifdPacketDescriptor.NEXT_PACKET_SIZE_OFFSET, size + d);
                // an earlier mutation of this case may have left any int in the field: resize the
                // payload only for a size the stream could carry (a delta of -size could ask for 2 GiB)
                boolean resize = r.nextBoolean() && size >= 0 && size <= MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH
                        && Math.abs((long) d) <= MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH;
                if (resize) {
                    int payloadEnd = at + HEADER_LENGTH + Math.max(0, size);
                    m = d > 0 ? splice(m, payloadEnd, payloadEnd, bytes(r, d))
                            : splice(m, Math.max(at + HEADER_LENGTH, payloadEnd + d), Math.min(m.length, payloadEnd), new byte[0]);
                }
                chans.set(c, m);
                what.add(on + "packet " + k + " next_packet_size " + (d > 0 ? "+" : "") + d + (resize ? ", payload resized" : ""));
            }
            case 12 -> {
                int end = end(b, starts, k);
                byte[] p = Arrays.copyOfRange(b, at, end);
                int where = r.nextBoolean() ? end : b.length;
                int times = r.nextInt(4) == 0 ? 2 + r.nextInt(6) : 1;
                byte[] m = b;
                for (int i = 0; i < times; i++) {
                    m = splice(m, where, where, p);
                }
                chans.set(c, m);
                what.add(on + "packet " + k + " duplicated " + times + "x" + (where == end ? " in place" : " at the end"));
            }
            case 13 -> {
                if (starts.length < 2) {
                    what.add(on + "no packets to swap");
                    return;
                }
                int j = r.nextInt(starts.length);
                int a = Math.min(k, j);
                int z = Math.max(k, j);
                if (a == z) {
                    what.add(on + "packet " + k + " swapped with itself");
                    return;
                }
                byte[] pa = Arrays.copyOfRange(b, starts[a], end(b, starts, a));
                byte[] pz = Arrays.copyOfRange(b, starts[z], end(b, starts, z));
                byte[] m = splice(b, starts[z], end(b, starts, z), pa);
                m = splice(m, starts[a], end(b, starts, a), pz);
                chans.set(c, m);
                what.add(on + "packets " + a + " and " + z + " swapped");
            }
            case 14 -> {
                int other = (c + 1) % chans.size();
                byte[] p = Arrays.copyOfRange(b, at, end(b, starts, k));
                chans.set(c, splice(b, at, at + p.length, new byte[0]));
                byte[] o = chans.get(other);
                int[] os = starts(o);
                int where = os.length == 0 ? o.length : os[r.nextInt(os.length)];
                chans.set(other, splice(o, where, where, p));
                what.add(on + "packet " + k + " moved to channel " + other);
            }
            case 15 -> {
                chans.set(c, splice(b, at, end(b, starts, k), new byte[0]));
                what.add(on + "packet " + k + " deleted");
            }
            case 16 -> {
                int count = new int[] {1, 3, 50, 1000}[r.nextInt(4)];
                ByteBuffer sync = ByteBuffer.allocate(HEADER_LENGTH);
                MultifdPacketDescriptor.writeHeader(sync, MultifdPacketDescriptor.FLAG_SYNC, 0, 0, 0, 1000 + k, null,
                        new long[0]);
                byte[] run = new byte[count * HEADER_LENGTH];
                for (int i = 0; i < count; i++) {
                    System.arraycopy(sync.array(), 0, run, i * HEADER_LENGTH, HEADER_LENGTH);
                }
                int where = r.nextBoolean() ? at : b.length;
                chans.set(c, splice(b, where, where, run));
                what.add(on + count + " SYNC packets inserted " + (where == b.length ? "at the end" : "before packet " + k));
            }
            case 17 -> {
                List<String> w = new ArrayList<>();
                chans.set(c, concat(damageInit(r, Arrays.copyOf(b, INIT_LENGTH), w), Arrays.copyOfRange(b, INIT_LENGTH, b.length)));
                what.add(on + w.getFirst());
            }
            case 18 -> {
                int[] choices = {0, Math.max(0, flushes[0] - 1), flushes[0] + 1, flushes[0] + 3};
                flushes[0] = choices[r.nextInt(choices.length)];
                what.add("main stream with " + flushes[0] + " MULTIFD_FLUSH");
            }
            case 19 -> {
                switch (r.nextInt(5)) {
                    case 0 -> {
                        chans.set(c, new byte[0]);
                        what.add(on + "connection closed at once");
                    }
                    case 1 -> {
                        extra.add(MultifdFuzzHarness.mainStream());
                        what.add("a second main connection");
                    }
                    case 2 -> {
                        mainDropped[0] = true;
                        extra.add(b.clone());
                        what.add("no main connection, channel " + c + " connects twice");
                    }
                    case 3 -> {
                        MultifdFuzzSeeds.Seed o = seeds.get(r.nextInt(seeds.size()));
                        chans.set(c, o.channels().get(r.nextInt(o.channels().size())).clone());
                        what.add(on + "replaced by a " + o.name() + " channel");
                    }
                    default -> {
                        chans.set(c, Arrays.copyOf(b, INIT_LENGTH));
                        what.add(on + "only its init packet");
                    }
                }
            }
            case 20 -> {
                ByteBuffer h = ByteBuffer.wrap(b);
                byte[] m = b.clone();
                ByteBuffer mb = ByteBuffer.wrap(m);
                int normal = h.getInt(at + MultifdPacketDescriptor.NORMAL_PAGES_OFFSET);
                switch (r.nextInt(4)) {
                    case 0 -> mb.putInt(at + MultifdPacketDescriptor.NORMAL_PAGES_OFFSET, 128);
                    case 1 -> mb.putInt(at + MultifdPacketDescriptor.ZERO_PAGES_OFFSET, 128 - normal);
                    case 2 -> mb.putInt(at + MultifdPacketDescriptor.PAGES_ALLOC_OFFSET, Math.max(0, normal - 1));
                    default -> {
                        mb.putInt(at + MultifdPacketDescriptor.NORMAL_PAGES_OFFSET, 0x80000000 + normal);
                        mb.putInt(at + MultifdPacketDescriptor.ZERO_PAGES_OFFSET, 0x80000000);
                    }
                }
                chans.set(c, m);
                what.add(on + "packet " + k + " page counts changed");
            }
            case 21 -> {
                int where = r.nextInt(b.length + 1);
                int len = 1 + r.nextInt(r.nextBoolean() ? 16 : HEADER_LENGTH * 2);
                chans.set(c, splice(b, where, where, bytes(r, len)));
                what.add(on + len + " random bytes inserted at " + where);
            }
            case 22 -> {
                ByteBuffer h = ByteBuffer.wrap(b);
                int size = h.getInt(at + MultifdPacketDescriptor.NEXT_PACKET_SIZE_OFFSET);
                if (size <= 0) {
                    what.add(on + "packet " + k + " has no payload to garble");
                    return;
                }
                byte[] m = b.clone();
                // the size field may hold any int after an earlier mutation: garble only bytes that are there
                int span = Math.min(size, m.length - (at + HEADER_LENGTH));
                if (span <= 0) {
                    what.add(on + "packet " + k + " payload is cut off: nothing to garble");
                    return;
                }
                int from = at + HEADER_LENGTH + (r.nextBoolean() ? 0 : r.nextInt(span));
                int len = Math.min(m.length - from, 1 + r.nextInt(span));
                if (len <= 0) {
                    what.add(on + "packet " + k + " payload is cut off: nothing to garble");
                    return;
                }
                byte[] g = bytes(r, len);
                System.arraycopy(g, 0, m, from, len);
                chans.set(c, m);
                what.add(on + "packet " + k + " payload garbled (" + len + " bytes)");
            }
            default -> {
                // the zero pages of one packet pointed at the start of the block (overlapping, repeated)
                ByteBuffer h = ByteBuffer.wrap(b);
                int used = h.getInt(at + MultifdPacketDescriptor.NORMAL_PAGES_OFFSET)
                        + h.getInt(at + MultifdPacketDescriptor.ZERO_PAGES_OFFSET);
                byte[] m = b.clone();
                ByteBuffer mb = ByteBuffer.wrap(m);
                long same = PAGE * (long) r.nextInt(4);
                for (int i = 0; i < Math.min(Math.max(used, 0), MultifdPacketDescriptor.PAGES_PER_PACKET); i++) {
                    mb.putLong(at + MultifdPacketDescriptor.offsetOfPage(i), same);
                }
                chans.set(c, m);
                what.add(on + "packet " + k + " every offset = 0x" + Long.toHexString(same));
            }
        }
    }

    /** Packet starts, walked leniently over a possibly damaged stream (stops at the first implausible size). */
    static int[] starts(byte[] b) {
        List<Integer> s = new ArrayList<>();
        ByteBuffer bb = ByteBuffer.wrap(b);
        int p = INIT_LENGTH;
        while (p + HEADER_LENGTH <= b.length) {
            s.add(p);
            long size = Integer.toUnsignedLong(bb.getInt(p + MultifdPacketDescriptor.NEXT_PACKET_SIZE_OFFSET));
            if (size > MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH) {
                break;
            }
            p += HEADER_LENGTH + (int) size;
        }
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int end(byte[] b, int[] starts, int k) {
        return k + 1 < starts.length ? starts[k + 1] : Math.min(b.length,
                starts[k] + HEADER_LENGTH + (int) Math.min(MultifdPacketDescriptor.MAX_COMPRESSED_LENGTH,
                        Integer.toUnsignedLong(ByteBuffer.wrap(b).getInt(starts[k] + MultifdPacketDescriptor.NEXT_PACKET_SIZE_OFFSET))));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        return splice(a, a.length, a.length, b);
    }

    private static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }
}
