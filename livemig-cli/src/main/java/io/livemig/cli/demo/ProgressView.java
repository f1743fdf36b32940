package io.livemig.cli.demo;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;

/**
 * Renders {@code query-migrate} answers as one progress line: on a terminal the line is rewritten
 * in place; otherwise (a pipe, CI) a line is printed at most once a second.
 */
final class ProgressView {

    private final PrintWriter out;
    private final boolean terminal;
    private long lastPrintNanos;
    private int lastWidth;

    ProgressView(PrintWriter out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    void update(Map<String, Object> info, long elapsedNanos) {
        long now = System.nanoTime();
        if (!terminal && now - lastPrintNanos < 1_000_000_000L) {
            return;
        }
        lastPrintNanos = now;
        String line = line(info, elapsedNanos);
        if (terminal) {
            out.print("\r" + line + " ".repeat(Math.max(0, lastWidth - line.length())));
            lastWidth = line.length();
        } else {
            out.println(line);
        }
        out.flush();
    }

    void finish() {
        if (terminal && lastWidth > 0) {
            out.println();
        }
    }

    static String line(Map<String, Object> info, long elapsedNanos) {
        String status = String.valueOf(info.getOrDefault("status", "?"));
        Map<?, ?> ram = info.get("ram") instanceof Map<?, ?> m ? m : Map.of();
        long total = num(ram.get("total"));
        long remaining = num(ram.get("remaining"));
        long transferred = num(ram.get("transferred"));
        double mbps = ram.get("mbps") instanceof Number n ? n.doubleValue() : 0;
        long pass = num(ram.get("dirty-sync-count"));
        long expected = num(info.get("expected-downtime"));
        int percent = total > 0 ? (int) (100 * (total - Math.min(total, remaining)) / total) : 0;
        return String.format(Locale.ROOT, "[%5.1fs] %-9s pass %-3d %3d%%  sent %s  remaining %s  %6.0f Mbps  expected downtime %d ms",
                elapsedNanos / 1e9, status, pass, percent, mib(transferred), mib(remaining), mbps, expected);
    }

    static long num(Object o) {
        return o instanceof Number n ? n.longValue() : 0;
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%7.1f MiB", bytes / 1048576.0);
    }
}
