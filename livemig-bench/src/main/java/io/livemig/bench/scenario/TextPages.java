package io.livemig.bench.scenario;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * The {@code text} RAM content: pages of English-like sentences, compressible but not zero.
 *
 * <p>Exactly, all drawn from the one generator the content was given ({@code SplittableRandom(1)}):
 * <ol>
 *   <li>a pool of {@value #POOL} sentences is made first;</li>
 *   <li>then each 4 KiB page is filled with whole sentences, each of which is, with probability
 *       3/4, a sentence of the pool (uniform), and otherwise a fresh one, until the next sentence
 *       does not fit; the rest of the page is spaces.</li>
 * </ol>
 * A sentence is 4 to 15 words drawn uniformly from {@link #WORDS} (176: common English words and a
 * few of this project's), separated by one space, the first capitalised, ending in {@code ". "},
 * or in {@code ".\n"} one time in eight. Every byte is printable ASCII, so no page is zero.
 *
 * <p>zstd level 1, streamed in 512 KiB packets as multifd compresses it, makes about 4.8× fewer
 * bytes of it (the repeated pool sentences are long matches; the fresh ones cost about 7 bits a
 * word); see {@code RamContentTest}. Real guest RAM that compresses like this: page cache of text
 * files and logs, JSON heaps.
 */
final class TextPages {

    static final int POOL = 1024;
    private static final int POOL_SHARE_OF_4 = 3;
    private static final int MIN_WORDS = 4;
    private static final int MAX_WORDS = 15;

    static final String[] WORDS = ("the of and to a in is that for it as was with be by on not he this are or his"
            + " from at which but have an they you were her she there been one all we their has would when if so no what"
            + " up out who them some into more other could time very then than only its two may first new these any my"
            + " now such like our over man me even most made after also did many before must through back years where"
            + " much your way well down should because each just those people how too little state good make world still"
            + " own see men work long get here between both life being under never day same another know while last"
            + " might us great old year off come since against go came right used take three migration memory page guest"
            + " source destination channel stream device network kernel buffer socket process thread engine packet"
            + " bandwidth downtime machine window budget limit transfer dirty clean bitmap block section record header"
            + " footer version vector queue").split(" ");

    private static final byte[][] WORD_BYTES = new byte[WORDS.length][];

    static {
        for (int i = 0; i < WORDS.length; i++) {
            WORD_BYTES[i] = WORDS[i].getBytes(StandardCharsets.US_ASCII);
        }
    }

    private final SplittableRandom rnd;
    private final byte[][] pool = new byte[POOL][];
    private final byte[] fresh = new byte[MAX_WORDS * 16 + 2];

    TextPages(SplittableRandom rnd) {
        this.rnd = rnd;
        for (int i = 0; i < POOL; i++) {
            int len = sentence(fresh);
            pool[i] = java.util.Arrays.copyOf(fresh, len);
        }
    }

    /** Writes {@code len} bytes of whole sentences and trailing spaces into {@code dst} at {@code at}. */
    void fill(ByteBuffer dst, int at, int len) {
        int pos = 0;
        while (true) {
            byte[] s;
            int n;
            if (rnd.nextInt(4) < POOL_SHARE_OF_4) {
                s = pool[rnd.nextInt(POOL)];
                n = s.length;
            } else {
                s = fresh;
                n = sentence(fresh);
            }
            if (pos + n > len) {
                break;
            }
            dst.put(at + pos, s, 0, n);
            pos += n;
        }
        for (; pos < len; pos++) {
            dst.put(at + pos, (byte) ' ');
        }
    }

    /** One fresh sentence into {@code b}; returns its length. */
    private int sentence(byte[] b) {
        int words = MIN_WORDS + rnd.nextInt(MAX_WORDS - MIN_WORDS + 1);
        int pos = 0;
        for (int i = 0; i < words; i++) {
            byte[] w = WORD_BYTES[rnd.nextInt(WORD_BYTES.length)];
            System.arraycopy(w, 0, b, pos, w.length);
            if (i == 0 && b[pos] >= 'a' && b[pos] <= 'z') {
                b[pos] -= 'a' - 'A';
            }
            pos += w.length;
            if (i < words - 1) {
                b[pos++] = ' ';
            }
        }
        b[pos++] = '.';
        b[pos++] = rnd.nextInt(8) == 0 ? (byte) '\n' : (byte) ' ';
        return pos;
    }
}
