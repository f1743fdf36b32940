package io.livemig.fuzz;

import io.livemig.stream.SectionType;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded mutations of a valid stream. Each case is a function of its own 64-bit seed alone (the
 * seed picks the seed stream, the number of mutations and each mutation), so a failing case is
 * replayed exactly from the seed the test prints.
 *
 * <p>Blind mutations: truncation, bit flips, bytes and be16/be32/be64 fields overwritten with
 * interesting values, chunks inserted, deleted or duplicated, splices of two seeds.
 * Structure-aware ones, on the seed's record boundaries: a record's type, section id, idstr,
 * instance or version changed; a section duplicated, deleted or moved; a footer damaged;
 * commands inserted (known, unknown, wrong lengths); RAM, block and vfio records retargeted
 * (offsets outside a block, wrong block sizes, unknown names, huge lengths).
 */
public final class Mutator {

    static final long[] INTERESTING = {0, 1, 2, 0x7e, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x7fff, 0x8000, 0xffff,
            0x10000, 0x3ffff, 0x40000, 0x7fffffffL, 0x80000000L, 0xffffffffL, 0x100000000L, 0x7fffffffffffffffL,
            0x8000000000000000L, -1L, -2L, 0xffffffffef100001L, 0xffffffffef100002L, 0xffffffffef100003L,
            0xffffffffef100004L, 0xffffffffef100005L, 0x0123456789abcdefL};

    private final List<FuzzSeeds.Seed> seeds;

    Mutator(List<FuzzSeeds.Seed> seeds) {
        this.seeds = seeds;
    }

    /** One fuzz case: the input and a description of what was done (for the failure message). */
    record Case(long seed, String base, byte[] input, String what) {
    }

    Case mutate(long caseSeed) {
        SplittableRandom r = new SplittableRandom(caseSeed);
        FuzzSeeds.Seed s = seeds.get(r.nextInt(seeds.size()));
        byte[] b = s.bytes();
        List<String> what = new ArrayList<>();
        int n = 1 + (r.nextInt(4) == 0 ? r.nextInt(4) : 0);
        for (int i = 0; i < n; i++) {
            b = one(r, s, b, what);
        }
        return new Case(caseSeed, s.name(), b, String.join("; ", what));
    }

    private byte[] one(SplittableRandom r, FuzzSeeds.Seed s, byte[] b, List<String> what) {
        if (b.length < 24) {
            what.add("append");
            return concat(b, bytes(r, 1 + r.nextInt(16)));
        }
        int op = r.nextInt(20);
        int at = position(r, s, b);
        switch (op) {
            case 0 -> {
                int cut = r.nextInt(b.length);
                what.add("truncate at " + cut);
                return Arrays.copyOf(b, cut);
            }
            case 1 -> {
                byte[] c = b.clone();
                int flips = 1 + r.nextInt(8);
                for (int i = 0; i < flips; i++) {
                    int p = r.nextBoolean() ? at + r.nextInt(32) : r.nextInt(c.length);
                    p = Math.min(p, c.length - 1);
                    c[p] ^= (byte) (1 << r.nextInt(8));
                }
                what.add(flips + " bit flips near " + at);
                return c;
            }
            case 2, 3 -> {
                int width = new int[] {1, 2, 4, 8}[r.nextInt(4)];
                long v = INTERESTING[r.nextInt(INTERESTING.length)];
                if (r.nextInt(4) == 0) {
                    v = r.nextLong();
                }
                int p = Math.min(at + (r.nextBoolean() ? 0 : r.nextInt(24)), b.length - width);
                what.add(String.format("be%d 0x%x at %d", width * 8, v, p));
                return put(b.clone(), p, width, v);
            }
            case 4 -> {
                int len = 1 + r.nextInt(r.nextBoolean() ? 16 : 8192);
                int p = Math.min(at, b.length - 1);
                int end = Math.min(b.length, p + len);
                what.add("delete [" + p + "," + end + ")");
                return concat(Arrays.copyOf(b, p), Arrays.copyOfRange(b, end, b.length));
            }
            case 5 -> {
                byte[] ins = r.nextBoolean() ? bytes(r, 1 + r.nextInt(64))
                        : Arrays.copyOfRange(b, r.nextInt(b.length - 16), b.length - r.nextInt(8));
                if (ins.length > 65536) {
                    ins = Arrays.copyOf(ins, 65536);
                }
                what.add("insert " + ins.length + " bytes at " + at);
                return splice(b, at, at, ins);
            }
            case 6 -> {
                FuzzSeeds.Seed o = seeds.get(r.nextInt(seeds.size()));
                int p = Math.min(at, b.length);
                int q = o.boundaries().get(r.nextInt(o.boundaries().size()));
                what.add("splice " + s.name() + "[0," + p + ") + " + o.name() + "[" + q + ",)");
                return concat(Arrays.copyOf(b, p), Arrays.copyOfRange(o.bytes(), q, o.bytes().length));
            }
            default -> {
                return structured(r, s, b, what);
            }
        }
    }

    /** Mutations that use the record boundaries (computed on the unmutated seed). */
    private byte[] structured(SplittableRandom r, FuzzSeeds.Seed s, byte[] b, List<String> what) {
        List<Integer> bounds = s.boundaries();
        int i = r.nextInt(bounds.size());
        int start = Math.min(bounds.get(i), b.length - 1);
        int end = i + 1 < bounds.size() ? Math.min(bounds.get(i + 1), b.length) : b.length;
        int type = b[start] & 0xff;
        int op = r.nextInt(12);
        switch (op) {
            case 0 -> {
                int[] types = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x7e, 0x7f, 0x80, 0xff};
                int t = r.nextInt(3) == 0 ? r.nextInt(256) : types[r.nextInt(types.length)];
                what.add("record at " + start + ": type " + type + " -> " + t);
                return put(b.clone(), start, 1, t);
            }
            case 1 -> {
                long id = r.nextBoolean() ? r.nextInt(8) : INTERESTING[r.nextInt(INTERESTING.length)];
                what.add("record at " + start + ": section id -> 0x" + Long.toHexString(id));
                return start + 5 <= b.length ? put(b.clone(), start + 1, 4, id) : b;
            }
            case 2 -> {
                // START/FULL: idstr, instance, version
                if (type != SectionType.SECTION_START && type != SectionType.SECTION_FULL || start + 6 >= b.length) {
                    return structured(r, s, b, what);
                }
                int idlen = b[start + 5] & 0xff;
                int inst = start + 6 + idlen;
                int k = r.nextInt(5);
                if (inst + 8 > b.length) {
                    return b;
                }
                return switch (k) {
                    case 0 -> {
                        long v = new long[] {0, 1, 5, 0x7fffffffL, 0x80000000L, 0xffffffffL}[r.nextInt(6)];
                        what.add("record at " + start + ": version -> " + v);
                        yield put(b.clone(), inst + 4, 4, v);
                    }
                    case 1 -> {
                        what.add("record at " + start + ": version + 1");
                        yield put(b.clone(), inst + 4, 4, FuzzSeeds.be32(b, inst + 4) + 1L);
                    }
                    case 2 -> {
                        long v = INTERESTING[r.nextInt(INTERESTING.length)];
                        what.add("record at " + start + ": instance -> 0x" + Long.toHexString(v));
                        yield put(b.clone(), inst, 4, v);
                    }
                    case 3 -> {
                        String name = new String[] {"ram", "block", "timer", "globalstate", "vf0/vfio", "dirty-bitmap",
                                "unknown", "", "configuration", "x".repeat(255)}[r.nextInt(10)];
                        byte[] nb = name.getBytes(StandardCharsets.UTF_8);
                        byte[] rep = new byte[1 + nb.length];
                        rep[0] = (byte) nb.length;
                        System.arraycopy(nb, 0, rep, 1, nb.length);
                        what.add("record at " + start + ": idstr -> '" + (name.length() > 20 ? "x*255" : name) + "'");
                        yield splice(b, start + 5, start + 6 + idlen, rep);
                    }
                    default -> {
                        long v = r.nextInt(256);
                        what.add("record at " + start + ": idstr length -> " + v);
                        yield put(b.clone(), start + 5, 1, v);
                    }
                };
            }
            case 3 -> {
                int copies = r.nextInt(4) == 0 ? 2 + r.nextInt(30) : 1;
                byte[] sec = Arrays.copyOfRange(b, start, end);
                ByteArrayOutputStream o = new ByteArrayOutputStream();
                for (int c = 0; c < copies; c++) {
                    o.writeBytes(sec);
                }
                int to = bounds.get(r.nextInt(bounds.size()));
                to = Math.min(to, b.length);
                what.add("duplicate record [" + start + "," + end + ") x" + copies + " at " + to);
                return splice(b, to, to, o.toByteArray());
            }
            case 4 -> {
                what.add("delete record [" + start + "," + end + ")");
                return splice(b, start, end, new byte[0]);
            }
            case 5 -> {
                // footer: the 5 bytes before the next boundary
                if (end - 5 <= start) {
                    return b;
                }
                int p = end - 5 + r.nextInt(5);
                long v = p == end - 5 ? new long[] {0, 0x7d, 0x7f, 0x05, 0x00}[r.nextInt(5)] : r.nextInt(256);
                what.add("footer of record at " + start + ": byte " + p + " -> 0x" + Long.toHexString(v));
                return put(b.clone(), p, 1, v);
            }
            case 6, 7 -> {
                byte[] cmd = command(r);
                what.add("command " + hex(cmd, 16) + " at " + start);
                return splice(b, start, start, cmd);
            }
            case 8 -> {
                return ramRecord(r, b, what);
            }
            case 9 -> {
                return nameRecord(r, b, "\u0006" + FuzzSeeds.DRIVE_ID, what);
            }
            case 10 -> {
                return vfioRecord(r, b, what);
            }
            default -> {
                int other = bounds.get(r.nextInt(bounds.size()));
                int oEnd = bounds.indexOf(other) + 1 < bounds.size() ? bounds.get(bounds.indexOf(other) + 1) : b.length;
                if (other >= b.length || oEnd > b.length || other == start) {
                    return b;
                }
                byte[] sec = Arrays.copyOfRange(b, other, oEnd);
                what.add("move record [" + other + "," + oEnd + ") to " + start);
                byte[] without = splice(b, other, oEnd, new byte[0]);
                int to = start > other ? start - sec.length : start;
                return splice(without, Math.max(0, Math.min(to, without.length)), Math.max(0, Math.min(to, without.length)), sec);
            }
        }
    }

    private static byte[] command(SplittableRandom r) {
        int cmd = r.nextInt(4) == 0 ? r.nextInt(65536) : r.nextInt(13);
        int len;
        int k = r.nextInt(4);
        len = switch (k) {
            case 0 -> 0;
            case 1 -> 4;
            case 2 -> r.nextInt(32);
            default -> new int[] {0xffff, 0x8000, 16, 5, 3}[r.nextInt(5)];
        };
        int payload = r.nextInt(3) == 0 ? Math.min(len, 64) : Math.min(len, r.nextInt(8));
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        if (r.nextInt(3) == 0) {
            o.writeBytes(new byte[] {SectionType.COMMAND, 0, 1, 0, 0});
        }
        o.writeBytes(new byte[] {SectionType.COMMAND, (byte) (cmd >> 8), (byte) cmd, (byte) (len >> 8), (byte) len});
        o.writeBytes(bytes(r, payload));
        return o.toByteArray();
    }

    /** A RAM record naming mem0: its address/flags word, or a MEM_SIZE entry's length, retargeted. */
    private static byte[] ramRecord(SplittableRandom r, byte[] b, List<String> what) {
        List<Integer> at = find(b, ("\u0004" + FuzzSeeds.RAM_ID).getBytes(StandardCharsets.US_ASCII));
        if (at.isEmpty()) {
            return b;
        }
        int p = at.get(r.nextInt(at.size()));
        int k = r.nextInt(5);
        if (k == 0 && p + 13 <= b.length) {
            long len = new long[] {0, 4096, FuzzSeeds.RAM_SIZE - 4096, FuzzSeeds.RAM_SIZE + 4096, FuzzSeeds.RAM_SIZE * 2,
                    -1L, 0x8000000000000000L}[r.nextInt(7)];
            what.add("be64 after mem0 at " + p + " (block size or next word) -> 0x" + Long.toHexString(len));
            return put(b.clone(), p + 5, 8, len);
        }
        if (k == 1) {
            String name = new String[] {"mem1", "", "mem0x", "drive0", "ram"}[r.nextInt(5)];
            byte[] nb = name.getBytes(StandardCharsets.US_ASCII);
            byte[] rep = new byte[1 + nb.length];
            rep[0] = (byte) nb.length;
            System.arraycopy(nb, 0, rep, 1, nb.length);
            what.add("block name at " + p + " -> '" + name + "'");
            return splice(b, p, p + 5, rep);
        }
        if (p < 8) {
            return b;
        }
        long word = ((long) FuzzSeeds.be32(b, p - 8) << 32) | (FuzzSeeds.be32(b, p - 4) & 0xffffffffL);
        long flags = word & 0xfff;
        long addr = new long[] {FuzzSeeds.RAM_SIZE, FuzzSeeds.RAM_SIZE - 4096, FuzzSeeds.RAM_SIZE + (1L << 20), 1L << 40,
                0xfffffffffffff000L, 0x7ffffffffffff000L, word & ~0xfffL}[r.nextInt(7)];
        if (k == 3) {
            flags = new long[] {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x22, 0x28, 0x48, 0x0a,
                    0xfff, 0x14, 0x30}[r.nextInt(17)];
            addr = word & ~0xfffL;
        }
        what.add(String.format("ram record word at %d: 0x%x -> 0x%x", p - 8, word, addr | flags));
        return put(b.clone(), p - 8, 8, addr | flags);
    }

    /** A block record naming drive0: its sector/flags word. */
    private static byte[] nameRecord(SplittableRandom r, byte[] b, String name, List<String> what) {
        List<Integer> at = find(b, name.getBytes(StandardCharsets.US_ASCII));
        if (at.isEmpty() || at.getFirst() < 8) {
            return b;
        }
        int p = at.get(r.nextInt(at.size()));
        long sectors = FuzzSeeds.DRIVE_SIZE >> 9;
        long sector = new long[] {sectors, sectors - 1, sectors - 8, sectors + 2048, 1L << 50, 0x7fffffffffffffL}[r.nextInt(6)];
        long flags = new long[] {1, 2, 4, 8, 9, 3, 5, 0, 0x10, 0x1ff}[r.nextInt(10)];
        long word = r.nextBoolean() ? sector << 9 | flags : sector << 9 | 1;
        what.add(String.format("block record word at %d -> 0x%x", p - 8, word));
        return put(b.clone(), p - 8, 8, word);
    }

    /** A vfio-sim marker or DATA size. */
    private static byte[] vfioRecord(SplittableRandom r, byte[] b, List<String> what) {
        List<Integer> at = find(b, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xef, 0x10, 0x00});
        if (at.isEmpty()) {
            return b;
        }
        int p = at.get(r.nextInt(at.size()));
        if (r.nextBoolean() && p + 16 <= b.length) {
            long size = new long[] {0, 1, (1L << 20), (1L << 20) + 1, 0x7fffffffL, 0xffffffffL, -1L, 1L << 40}[r.nextInt(8)];
            what.add("vfio size after marker at " + p + " -> 0x" + Long.toHexString(size));
            return put(b.clone(), p + 8, 8, size);
        }
        long m = 0xffffffffef100000L + r.nextInt(8);
        what.add("vfio marker at " + p + " -> 0x" + Long.toHexString(m));
        return put(b.clone(), p, 8, m);
    }

    private int position(SplittableRandom r, FuzzSeeds.Seed s, byte[] b) {
        int k = r.nextInt(4);
        int p = switch (k) {
            case 0 -> r.nextInt(Math.min(b.length, 64));
            case 1 -> s.boundaries().get(r.nextInt(s.boundaries().size())) + r.nextInt(24) - 4;
            default -> r.nextInt(b.length);
        };
        return Math.max(0, Math.min(p, b.length - 1));
    }

    static List<Integer> find(byte[] b, byte[] pattern) {
        List<Integer> at = new ArrayList<>();
        outer:
        for (int i = 0; i + pattern.length <= b.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (b[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            at.add(i);
        }
        return at;
    }

    static byte[] put(byte[] b, int at, int width, long v) {
        for (int i = 0; i < width && at + i < b.length; i++) {
            b[at + i] = (byte) (v >>> (8 * (width - 1 - i)));
        }
        return b;
    }

    /** {@code b} with {@code [from, to)} (clamped to {@code b}) replaced by {@code ins}; the fuzzers' one splice. */
    public static byte[] splice(byte[] b, int from, int to, byte[] ins) {
        from = Math.max(0, Math.min(from, b.length));
        to = Math.max(from, Math.min(to, b.length));
        byte[] out = new byte[b.length - (to - from) + ins.length];
        System.arraycopy(b, 0, out, 0, from);
        System.arraycopy(ins, 0, out, from, ins.length);
        System.arraycopy(b, to, out, from + ins.length, b.length - to);
        return out;
    }

    static byte[] concat(byte[] a, byte[] c) {
        return splice(a, a.length, a.length, c);
    }

    private static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (r.nextInt(4) == 0 ? INTERESTING[r.nextInt(9)] : r.nextInt());
        }
        return b;
    }

    static String hex(byte[] b, int max) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(b.length, max); i++) {
            sb.append(String.format("%02x", b[i]));
        }
        return sb.append(b.length > max ? "…" : "").toString();
    }
}
