package io.livemig.cli;

import java.math.BigDecimal;
import java.util.Locale;

/**
 * QEMU's size syntax ({@code qemu_strtosz}, util/cutils.c): a non-negative decimal number, possibly
 * with a fraction, and an optional binary suffix B, K, M, G, T, P or E (either case). A bare
 * number means bytes, or MiB for {@code -m} ({@code qemu_strtosz_MiB}).
 */
public final class Sizes {

    static final String SUFFIX_HINT = "(use k, M, G or T suffixes)";

    private Sizes() {
    }

    /**
     * @param text       the size as written
     * @param bareUnit   multiplier of a number without suffix (1 or 1 MiB)
     * @return the size in bytes, or -1 when {@code text} is not a size below 2^63
     */
    public static long parse(String text, long bareUnit) {
        if (text.isEmpty()) {
            return -1;
        }
        int end = text.length();
        long unit = bareUnit;
        char last = Character.toUpperCase(text.charAt(end - 1));
        int shift = "BKMGTPE".indexOf(last);
        if (shift >= 0) {
            unit = 1L << (10 * shift);
            end--;
        }
        String number = text.substring(0, end);
        if (!number.matches("[0-9]+(\\.[0-9]+)?")) {
            return -1;
        }
        if (number.contains(".") && shift < 0 && bareUnit == 1) {
            return -1; // QEMU: a fraction needs a suffix
        }
        try {
            BigDecimal bytes = new BigDecimal(number).multiply(BigDecimal.valueOf(unit));
            if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
                return -1;
            }
            return bytes.longValue();
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** A size for messages: {@code 64M}, {@code 1536K}, {@code 100}. */
    static String format(long bytes) {
        String[] units = {"", "K", "M", "G", "T", "P", "E"};
        int u = 0;
        while (u < units.length - 1 && bytes != 0 && bytes % 1024 == 0) {
            bytes /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%d%s", bytes, units[u]);
    }
}
