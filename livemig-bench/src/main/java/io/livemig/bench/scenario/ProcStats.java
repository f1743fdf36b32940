package io.livemig.bench.scenario;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * CPU time and peak RSS of a process, from Linux's {@code /proc}.
 *
 * <p>{@code /proc/PID/stat} fields 14 and 15 ({@code utime}, {@code stime}) are the whole thread
 * group's CPU time in clock ticks ({@code getconf CLK_TCK}, 100 on Linux x86-64), so the
 * resolution is 10 ms. {@code /proc/PID/status} {@code VmHWM} is the peak resident set, which
 * counts the guest RAM mapping (file-backed, shared) once its pages are touched.
 */
final class ProcStats {

    private static final long CLOCK_TICKS = clockTicks();

    private ProcStats() {
    }

    /** utime + stime of {@code pid} in nanoseconds. */
    static long cpuNanos(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
        // the command name (field 2) is in parentheses and may contain spaces: split after the last ')'
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" +");
        // f[0] is field 3 (state), so field 14 is f[11], field 15 is f[12]
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        return ticks * TimeUnit.SECONDS.toNanos(1) / CLOCK_TICKS;
    }

    /** VmHWM of {@code pid} in bytes. */
    static long peakRssBytes(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"), StandardCharsets.US_ASCII)) {
            if (line.startsWith("VmHWM:")) {
                String[] f = line.substring(6).trim().split(" +");
                return Long.parseLong(f[0]) * 1024;
            }
        }
        throw new IOException("no VmHWM in /proc/" + pid + "/status");
    }

    /** The 1, 5 and 15 minute load averages and the number of CPUs, for the report. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII).trim().split(" +");
            return f[0] + " " + f[1] + " " + f[2] + " (" + Runtime.getRuntime().availableProcessors() + " CPUs)";
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            if (p.waitFor() == 0) {
                long t = Long.parseLong(out);
                if (t > 0) {
                    return t;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through to Linux's USER_HZ
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 100;
    }
}
