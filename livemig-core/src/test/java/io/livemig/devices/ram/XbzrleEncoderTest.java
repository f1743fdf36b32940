package io.livemig.devices.ram;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** XBZRLE encoding: golden vectors, QEMU's overflow and decode rules, and seeded round trips. */
class XbzrleEncoderTest {

    private static final int PAGE = 4096;

    private static byte[] filled(int len, int value) {
        byte[] b = new byte[len];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static int encode(byte[] old, byte[] cur, byte[] dst) {
        return XbzrleEncoder.encode(MemorySegment.ofArray(old), 0, MemorySegment.ofArray(cur), 0, old.length, dst, dst.length);
    }

    private static String encodeHex(byte[] old, byte[] cur) {
        byte[] dst = new byte[old.length];
        int n = encode(old, cur, dst);
        assertThat(n).as("encoded length").isGreaterThanOrEqualTo(0);
        return HexFormat.of().formatHex(dst, 0, n);
    }

    @Test
    void aFewChangedBytesGiveQemusRuns() {
        byte[] old = filled(PAGE, 0x11);
        byte[] cur = old.clone();
        cur[100] = (byte) 0xaa;
        cur[101] = (byte) 0xbb;
        cur[102] = (byte) 0xcc;
        cur[103] = (byte) 0xdd;
        cur[4000] = (byte) 0xee;
        // zrun 100, nzrun 4 + bytes, zrun 3896 (uleb128 b8 1e), nzrun 1 + byte; the trailing zrun (95) is omitted
        assertThat(encodeHex(old, cur)).isEqualTo("64" + "04aabbccdd" + "b81e" + "01ee");
    }

    @Test
    void aChangeAtOffsetZeroStartsWithAnEmptyZeroRun() {
        byte[] old = new byte[PAGE];
        byte[] cur = old.clone();
        cur[0] = 1;
        cur[PAGE - 1] = 2;
        // zrun 0, nzrun 1, zrun 4094 (fe 1f), nzrun 1: no trailing run at all
        assertThat(encodeHex(old, cur)).isEqualTo("00" + "0101" + "fe1f" + "0102");
    }

    @Test
    void anIdenticalPageEncodesToLengthZero() {
        byte[] old = filled(PAGE, 0x5a);
        assertThat(encode(old, old.clone(), new byte[PAGE])).isZero();
    }

    @Test
    void aFullyChangedPageOverflows() {
        assertThat(encode(new byte[PAGE], filled(PAGE, 0xff), new byte[PAGE])).isEqualTo(XbzrleEncoder.OVERFLOW);
    }

    @Test
    void everyOtherByteChangedOverflows() {
        byte[] cur = new byte[PAGE];
        for (int i = 0; i < PAGE; i += 2) {
            cur[i] = 1;
        }
        // 3 bytes per 2 page bytes: past the page
        assertThat(encode(new byte[PAGE], cur, new byte[PAGE])).isEqualTo(XbzrleEncoder.OVERFLOW);
    }

    @Test
    void runLengthsAtTheUleb128Boundaries() {
        for (int run : new int[] {127, 128, 16383}) {
            byte[] old = new byte[run + 1];
            byte[] cur = old.clone();
            cur[run] = 7;
            byte[] lenBytes = new byte[2];
            int n = XbzrleEncoder.putUleb128Small(lenBytes, 0, run);
            assertThat(encodeHex(old, cur)).as("zrun %d", run)
                    .isEqualTo(HexFormat.of().formatHex(lenBytes, 0, n) + "0107");
        }
        assertThat(encodeHex(new byte[128], new byte[128])).isEmpty();
        byte[] b = new byte[2];
        assertThat(XbzrleEncoder.putUleb128Small(b, 0, 127)).isEqualTo(1);
        assertThat(HexFormat.of().formatHex(b, 0, 1)).isEqualTo("7f");
        assertThat(XbzrleEncoder.putUleb128Small(b, 0, 128)).isEqualTo(2);
        assertThat(HexFormat.of().formatHex(b)).isEqualTo("8001");
        assertThat(XbzrleEncoder.putUleb128Small(b, 0, 16383)).isEqualTo(2);
        assertThat(HexFormat.of().formatHex(b)).isEqualTo("ff7f");
        assertThat(XbzrleEncoder.getUleb128Small(HexFormat.of().parseHex("ff7f"), 0)).isEqualTo(16383);
        // 16384 needs a third byte: the small form refuses it on both sides, as QEMU's does
        assertThatThrownBy(() -> XbzrleEncoder.putUleb128Small(b, 0, 16384)).isInstanceOf(IllegalArgumentException.class);
        assertThat(XbzrleEncoder.getUleb128Small(HexFormat.of().parseHex("808001"), 0)).isEqualTo(-1);
        // a run of 16384 bytes in a larger buffer cannot be encoded (QEMU asserts)
        byte[] old = new byte[16385];
        byte[] cur = old.clone();
        cur[16384] = 1;
        assertThatThrownBy(() -> encode(old, cur, new byte[16385])).isInstanceOf(IllegalArgumentException.class);
    }

    private static int decode(String hex, byte[] page) {
        byte[] src = HexFormat.of().parseHex(hex);
        return XbzrleEncoder.decode(src, src.length, MemorySegment.ofArray(page), 0, page.length);
    }

    @Test
    void decodeAppliesTheRunsOntoTheOldPage() {
        byte[] page = filled(PAGE, 0x11);
        assertThat(decode("64" + "04aabbccdd" + "b81e" + "01ee", page)).isEqualTo(4001);
        assertThat(HexFormat.of().formatHex(page, 99, 105)).isEqualTo("11aabbccdd11");
        assertThat(page[4000]).isEqualTo((byte) 0xee);
        assertThat(page[4001]).isEqualTo((byte) 0x11);
        // QEMU's decoder also takes a non-canonical 2-byte length
        byte[] p2 = new byte[PAGE];
        assertThat(decode("8500" + "0109", p2)).isEqualTo(6);
        assertThat(p2[5]).isEqualTo((byte) 9);
    }

    @Test
    void decodeRefusesWhatQemuRefuses() {
        byte[] page = new byte[PAGE];
        assertThat(decode("0000", page)).as("empty nzrun").isEqualTo(XbzrleEncoder.BAD_ENCODING);
        assertThat(decode("0101" + "0001", page)).as("empty zrun after the first").isEqualTo(XbzrleEncoder.BAD_ENCODING);
        assertThat(decode("01", page)).as("truncated pair").isEqualTo(XbzrleEncoder.BAD_ENCODING);
        assertThat(decode("0105aa", page)).as("nzrun longer than the record").isEqualTo(XbzrleEncoder.BAD_ENCODING);
        assertThat(decode("ff1f" + "0201", page)).as("zrun past the page").isEqualTo(XbzrleEncoder.BAD_ENCODING);
        assertThat(decode("fe1f" + "0301020304", page)).as("nzrun past the page").isEqualTo(XbzrleEncoder.BAD_ENCODING);
        assertThat(decode("808001" + "0101", page)).as("3-byte length").isEqualTo(XbzrleEncoder.BAD_ENCODING);
        assertThat(decode("", page)).as("empty encoding").isZero();
    }

    /**
     * QEMU's {@code xbzrle_encode_buffer} written out byte by byte (its word loops are only a
     * speed-up), including its overflow checks: the oracle for the fast encoder.
     */
    private static int referenceEncode(byte[] old, byte[] cur, byte[] dst) {
        int slen = old.length;
        int dlen = dst.length;
        int d = 0;
        int i = 0;
        while (i < slen) {
            if (d + 2 > dlen) {
                return -1;
            }
            int zrun = 0;
            while (i < slen && old[i] == cur[i]) {
                zrun++;
                i++;
            }
            if (zrun == slen) {
                return 0;
            }
            if (i == slen) {
                return d;
            }
            d += XbzrleEncoder.putUleb128Small(dst, d, zrun);
            if (d + 2 > dlen) {
                return -1;
            }
            int start = i;
            while (i < slen && old[i] != cur[i]) {
                i++;
            }
            int nzrun = i - start;
            d += XbzrleEncoder.putUleb128Small(dst, d, nzrun);
            if (d + nzrun > dlen) {
                return -1;
            }
            System.arraycopy(cur, start, dst, d, nzrun);
            d += nzrun;
        }
        return d;
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 42, 4242, 0x5eed, 987654321L})
    void decodeOfEncodeIsTheNewPageAndMatchesTheReference(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int overflows = 0;
        for (int round = 0; round < 300; round++) {
            byte[] old = new byte[PAGE];
            r.nextBytes(old);
            byte[] cur = old.clone();
            // from a handful of small edits to hundreds (which overflow)
            int edits = 1 + r.nextInt(round % 3 == 0 ? 800 : 40);
            for (int e = 0; e < edits; e++) {
                int at = r.nextInt(PAGE);
                int len = Math.min(1 + r.nextInt(r.nextBoolean() ? 8 : 200), PAGE - at);
                for (int k = 0; k < len; k++) {
                    cur[at + k] = (byte) r.nextInt(256);
                }
            }
            byte[] dst = new byte[PAGE];
            int n = encode(old, cur, dst);
            byte[] ref = new byte[PAGE];
            int m = referenceEncode(old, cur, ref);
            String where = "seed " + seed + " round " + round;
            assertThat(n).as(where).isEqualTo(m);
            if (n == XbzrleEncoder.OVERFLOW) {
                overflows++;
                continue;
            }
            assertThat(Arrays.copyOf(dst, n)).as(where).isEqualTo(Arrays.copyOf(ref, m));
            byte[] page = old.clone();
            assertThat(XbzrleEncoder.decode(dst, n, MemorySegment.ofArray(page), 0, PAGE)).as(where)
                    .isNotEqualTo(XbzrleEncoder.BAD_ENCODING);
            assertThat(page).as(where).isEqualTo(cur);
        }
        assertThat(overflows).as("seed %d: some rounds overflow, most do not", seed).isBetween(1, 200);
    }

    @Test
    void anEncodingThatFillsThePageExactlyIsNotAnOverflowButOneMoreByteIs() {
        // zrun 3 (1 byte) + nzrun 4093 (2 bytes) + 4093 bytes = 4096, ending at the page end: fits
        byte[] old = new byte[PAGE];
        byte[] cur = old.clone();
        java.util.Arrays.fill(cur, 3, PAGE, (byte) 1);
        assertThat(encode(old, cur, new byte[PAGE])).isEqualTo(PAGE);
        // zrun 2 + nzrun 4094: one byte too many
        java.util.Arrays.fill(cur, 2, PAGE, (byte) 1);
        assertThat(encode(old, cur, new byte[PAGE])).isEqualTo(XbzrleEncoder.OVERFLOW);
        // QEMU's quirk, kept: 4096 bytes of runs followed by an (omitted) equal tail still overflow,
        // because the loop wants 2 free bytes before it looks at the next run
        java.util.Arrays.fill(cur, (byte) 0);
        java.util.Arrays.fill(cur, 0, 4093, (byte) 1);
        assertThat(encode(old, cur, new byte[PAGE])).isEqualTo(XbzrleEncoder.OVERFLOW);
    }
}
