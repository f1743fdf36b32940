package io.livemig.devices.ram;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * XBZRLE, "XOR-based zero run length encoding" (QEMU's migration/xbzrle.c): a page is described
 * against an older copy of itself, the one both sides hold.
 *
 * <pre>
 *  encoding = (zrun nzrun)*          the trailing zero run is omitted
 *  zrun     = uleb128 length         bytes equal to the old page (only the first may be 0)
 *  nzrun    = uleb128 length, bytes  the new bytes (length at least 1)
 *  uleb128  = 1 or 2 bytes (lengths below 0x4000): 7 low bits per byte, 0x80 = more follows
 * </pre>
 *
 * <p>Overflow rules are QEMU's, checked at the same points, so the same page pair gives the same
 * verdict: before a zero run and before a non-zero run's length there must be 2 bytes free, and a
 * run's bytes must fit whole. An identical page encodes to length 0.
 *
 * <p>Algorithm: zero runs are found with {@link MemorySegment#mismatch} (vectorised by the JDK);
 * non-zero runs, usually short, byte by byte. The result equals QEMU's byte-wise definition; the
 * word-at-a-time loops in QEMU are only a speed-up of it. No allocation: the caller owns the
 * output buffer.
 *
 * <p>Threading: stateless.
 */
final class XbzrleEncoder {

    /** {@link #encode} result: the encoding would not fit in the destination. */
    static final int OVERFLOW = -1;
    /** {@link #decode} result: the encoding is malformed or writes outside the page. */
    static final int BAD_ENCODING = -1;
    /** Largest length {@link #putUleb128Small} can write (14 bits). */
    static final int ULEB128_SMALL_MAX = 0x3fff;

    private XbzrleEncoder() {
    }

    /**
     * Encodes {@code cur[curOff, curOff+len)} against {@code old[oldOff, oldOff+len)} into
     * {@code dst[0, dlen)}. Returns the encoded length (0 = identical) or {@link #OVERFLOW}.
     */
    static int encode(MemorySegment old, long oldOff, MemorySegment cur, long curOff, int len, byte[] dst, int dlen) {
        int d = 0;
        int i = 0;
        while (i < len) {
            if (d + 2 > dlen) {
                return OVERFLOW;
            }
            long m = MemorySegment.mismatch(old, oldOff + i, oldOff + len, cur, curOff + i, curOff + len);
            int zrun = m < 0 ? len - i : (int) m;
            if (zrun == len) {
                return 0;
            }
            i += zrun;
            if (i == len) {
                return d; // the trailing zero run is not sent
            }
            d += putUleb128Small(dst, d, zrun);
            if (d + 2 > dlen) {
                return OVERFLOW;
            }
            int start = i;
            while (i < len && old.get(ValueLayout.JAVA_BYTE, oldOff + i) != cur.get(ValueLayout.JAVA_BYTE, curOff + i)) {
                i++;
            }
            int nzrun = i - start;
            d += putUleb128Small(dst, d, nzrun);
            if (d + nzrun > dlen) {
                return OVERFLOW;
            }
            MemorySegment.copy(cur, ValueLayout.JAVA_BYTE, curOff + start, dst, d, nzrun);
            d += nzrun;
        }
        return d;
    }

    /**
     * Applies {@code src[0, slen)} onto {@code page[pageOff, pageOff+dlen)} (QEMU's
     * {@code xbzrle_decode_buffer}, with its checks). Returns the extent written to, or
     * {@link #BAD_ENCODING}; on a bad encoding a prefix of the runs may already be applied.
     */
    static int decode(byte[] src, int slen, MemorySegment page, long pageOff, int dlen) {
        int i = 0;
        int d = 0;
        while (i < slen) {
            if (slen - i < 2) {
                return BAD_ENCODING;
            }
            int zrun = getUleb128Small(src, i);
            if (zrun < 0 || (i != 0 && zrun == 0)) {
                return BAD_ENCODING;
            }
            i += (src[i] & 0x80) == 0 ? 1 : 2;
            d += zrun;
            if (d > dlen || slen - i < 2) {
                return BAD_ENCODING;
            }
            int nzrun = getUleb128Small(src, i);
            if (nzrun <= 0) {
                return BAD_ENCODING;
            }
            i += (src[i] & 0x80) == 0 ? 1 : 2; // QEMU accepts a 2-byte form of a small value too
            if (d + nzrun > dlen || i + nzrun > slen) {
                return BAD_ENCODING;
            }
            MemorySegment.copy(src, i, page, ValueLayout.JAVA_BYTE, pageOff + d, nzrun);
            d += nzrun;
            i += nzrun;
        }
        return d;
    }

    /** Writes {@code n} (at most {@link #ULEB128_SMALL_MAX}) at {@code dst[at]}; returns 1 or 2. */
    static int putUleb128Small(byte[] dst, int at, int n) {
        if (n < 0 || n > ULEB128_SMALL_MAX) {
            throw new IllegalArgumentException("uleb128 small takes 0.." + ULEB128_SMALL_MAX + ", got " + n);
        }
        if (n < 0x80) {
            dst[at] = (byte) n;
            return 1;
        }
        dst[at] = (byte) ((n & 0x7f) | 0x80);
        dst[at + 1] = (byte) (n >>> 7);
        return 2;
    }

    /**
     * Reads a 1- or 2-byte uleb128 at {@code src[at]} (the caller guarantees 2 readable bytes when
     * the first has its high bit set); -1 if it would need a third byte.
     */
    static int getUleb128Small(byte[] src, int at) {
        int b0 = src[at] & 0xff;
        if ((b0 & 0x80) == 0) {
            return b0;
        }
        int b1 = src[at + 1] & 0xff;
        if ((b1 & 0x80) != 0) {
            return -1;
        }
        return (b0 & 0x7f) | (b1 << 7);
    }
}
