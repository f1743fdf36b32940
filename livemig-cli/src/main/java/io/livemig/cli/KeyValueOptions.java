package io.livemig.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The value of a QEMU option written as {@code [implied,]key=value,key=value} (QEMU's
 * {@code QemuOpts} syntax, util/qemu-option.c): a comma separates pairs, {@code ,,} is a literal
 * comma, and the first element may omit {@code key=} when the option has an implied key
 * ({@code -machine none} means {@code type=none}, {@code -m 64M} means {@code size=64M}). A key
 * without {@code =} elsewhere is a boolean flag ({@code server} means {@code server=on}).
 *
 * <p>Parsing is purely syntactic; {@link #take} and {@link #rejectUnknown} let the caller consume
 * the keys it knows and reject the rest with the option named in the message.
 */
final class KeyValueOptions {

    private final String option;
    private final Map<String, String> values = new LinkedHashMap<>();

    private KeyValueOptions(String option) {
        this.option = option;
    }

    /**
     * @param option     the option as written ({@code -machine}), for messages
     * @param text       the option's argument
     * @param impliedKey key of a leading element without {@code =}, or {@code null} when none
     */
    static KeyValueOptions parse(String option, String text, String impliedKey) throws UsageException {
        KeyValueOptions opts = new KeyValueOptions(option);
        List<String> parts = split(text);
        for (int i = 0; i < parts.size(); i++) {
            String part = parts.get(i);
            int eq = part.indexOf('=');
            String key;
            String value;
            if (eq < 0) {
                if (i == 0 && impliedKey != null) {
                    key = impliedKey;
                    value = part;
                } else if (part.startsWith("no") && part.length() > 2) {
                    key = part.substring(2);
                    value = "off";
                } else {
                    key = part;
                    value = "on";
                }
            } else {
                key = part.substring(0, eq);
                value = part.substring(eq + 1);
            }
            if (key.isEmpty()) {
                throw opts.error("empty parameter name in '" + text + "'");
            }
            if (opts.values.putIfAbsent(key, value) != null) {
                throw opts.error("parameter '" + key + "' given twice");
            }
        }
        return opts;
    }

    /** Splits on single commas; {@code ,,} stands for a comma inside a value. */
    private static List<String> split(String text) {
        List<String> parts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == ',') {
                if (i + 1 < text.length() && text.charAt(i + 1) == ',') {
                    current.append(',');
                    i++;
                    continue;
                }
                parts.add(current.toString());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        parts.add(current.toString());
        return parts;
    }

    String option() {
        return option;
    }

    /** Removes and returns every key not taken yet, in order. */
    Map<String, String> takeAll() {
        Map<String, String> rest = new LinkedHashMap<>(values);
        values.clear();
        return rest;
    }

    /** Removes and returns the value of {@code key}, or {@code null} when absent. */
    String take(String key) {
        return values.remove(key);
    }

    /** Removes and returns the value of {@code key}, failing as QEMU does when it is absent. */
    String require(String key) throws UsageException {
        String v = values.remove(key);
        if (v == null) {
            throw error("Parameter '" + key + "' is missing");
        }
        return v;
    }

    /** Removes {@code key} and reads it as QEMU's on/off (also yes/no, true/false); {@code dflt} when absent. */
    boolean takeBoolean(String key, boolean dflt) throws UsageException {
        String v = values.remove(key);
        if (v == null) {
            return dflt;
        }
        return switch (v) {
            case "on", "yes", "true", "y" -> true;
            case "off", "no", "false", "n" -> false;
            default -> throw error("Parameter '" + key + "' expects 'on' or 'off', got '" + v + "'");
        };
    }

    /** Fails naming the first key not consumed yet, unless it is in {@code ignored}. */
    void rejectUnknown(Set<String> ignored) throws UsageException {
        for (String key : values.keySet()) {
            if (!ignored.contains(key)) {
                throw error("Invalid parameter '" + key + "'");
            }
        }
    }

    void rejectUnknown() throws UsageException {
        rejectUnknown(Set.of());
    }

    UsageException error(String what) {
        return new UsageException("livemig vm: " + option + ": " + what);
    }
}
