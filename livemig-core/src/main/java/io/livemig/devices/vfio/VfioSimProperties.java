package io.livemig.devices.vfio;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The properties of {@code -device vfio-sim,id=ID,…}, validated once here (the edge): each bad
 * value is reported with the property's name and its rule.
 *
 * <pre>
 *  property         default  rule
 *  initial-bytes    1M       size 0..64G   mandatory pre-copy data (VFIO's precopy initial_bytes)
 *  dirty-rate       0        size 0..4G    new device data per second of guest run time
 *  stop-copy-bytes  1M       size 0..64G   data that exists only once the device stops
 *  precopy          on       on|off        whether the device supports PRE_COPY
 *  seed             0        long          content of the data and the config blob
 * </pre>
 * Sizes are bytes or a number with a binary suffix k, M, G or T (either case), as QEMU's sizes.
 *
 * @param initialBytes  {@code initial-bytes}
 * @param dirtyRate     {@code dirty-rate}, bytes per second of running guest
 * @param stopCopyBytes {@code stop-copy-bytes}
 * @param precopy       {@code precopy}
 * @param seed          {@code seed}
 */
public record VfioSimProperties(long initialBytes, long dirtyRate, long stopCopyBytes, boolean precopy, long seed) {

    public static final String DRIVER = "vfio-sim";
    public static final long MAX_SIZE = 64L << 30;
    public static final long MAX_DIRTY_RATE = 4L << 30;
    public static final VfioSimProperties DEFAULTS = new VfioSimProperties(1L << 20, 0, 1L << 20, true, 0);

    private static final List<String> NAMES = List.of("initial-bytes", "dirty-rate", "stop-copy-bytes", "precopy", "seed");

    public VfioSimProperties {
        check("initial-bytes", initialBytes, MAX_SIZE, "64G");
        check("dirty-rate", dirtyRate, MAX_DIRTY_RATE, "4G");
        check("stop-copy-bytes", stopCopyBytes, MAX_SIZE, "64G");
    }

    private static void check(String name, long v, long max, String maxText) {
        if (v < 0 || v > max) {
            throw new IllegalArgumentException(DRIVER + " " + name + " must be 0.." + maxText + ", got " + v);
        }
    }

    /**
     * Parses the {@code -device} properties (without {@code driver} and {@code id}).
     *
     * @throws IllegalArgumentException naming the device, the property and its rule
     */
    public static VfioSimProperties parse(String id, Map<String, String> props) {
        String where = DRIVER + " '" + id + "': ";
        for (String k : new TreeSet<>(props.keySet())) {
            if (!NAMES.contains(k)) {
                throw new IllegalArgumentException(where + "unknown property '" + k + "' (known: " + String.join(", ", NAMES) + ")");
            }
        }
        Map<String, String> p = new LinkedHashMap<>(props);
        long initial = size(where, "initial-bytes", p.get("initial-bytes"), DEFAULTS.initialBytes, MAX_SIZE, "64G");
        long rate = size(where, "dirty-rate", p.get("dirty-rate"), DEFAULTS.dirtyRate, MAX_DIRTY_RATE, "4G");
        long stop = size(where, "stop-copy-bytes", p.get("stop-copy-bytes"), DEFAULTS.stopCopyBytes, MAX_SIZE, "64G");
        boolean precopy = DEFAULTS.precopy;
        String pc = p.get("precopy");
        if (pc != null) {
            precopy = switch (pc) {
                case "on", "true", "yes" -> true;
                case "off", "false", "no" -> false;
                default -> throw new IllegalArgumentException(where + "precopy must be on or off, got '" + pc + "'");
            };
        }
        long seed = DEFAULTS.seed;
        String s = p.get("seed");
        if (s != null) {
            try {
                seed = Long.parseLong(s);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + "seed must be a 64-bit integer, got '" + s + "'", e);
            }
        }
        return new VfioSimProperties(initial, rate, stop, precopy, seed);
    }

    private static long size(String where, String name, String text, long dflt, long max, String maxText) {
        if (text == null) {
            return dflt;
        }
        long v = parseSize(text);
        if (v < 0 || v > max) {
            throw new IllegalArgumentException(where + name + " must be a size 0.." + maxText
                    + " (bytes, or with a k, M, G or T suffix), got '" + text + "'");
        }
        return v;
    }

    /** A size in bytes: digits with an optional binary suffix; -1 when malformed or above 2^62. */
    static long parseSize(String text) {
        if (text.isEmpty()) {
            return -1;
        }
        int shift = 0;
        int end = text.length();
        int idx = "BKMGT".indexOf(Character.toUpperCase(text.charAt(end - 1)));
        if (idx >= 0) {
            shift = 10 * idx;
            end--;
        }
        String digits = text.substring(0, end);
        if (digits.isEmpty() || digits.length() > 18 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return -1;
        }
        long n = Long.parseLong(digits);
        if (n > (Long.MAX_VALUE >> 1) >> shift) {
            return -1;
        }
        return n << shift;
    }
}
