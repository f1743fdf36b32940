package io.livemig.cli.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Explains why a migrated image differs from its source, chunk by chunk, so that a rare failure
 * says what went wrong the first time it is seen: for each differing chunk, whether the
 * destination still holds what it held before the migration (the chunk never arrived), zeros,
 * another chunk of the source (it arrived at the wrong place), or something else; and the first
 * and last differing byte inside it. The evidence is copied to {@code target/} because the test's
 * temporary directory is deleted.
 */
public final class ImageDiff {

    private ImageDiff() {
    }

    /**
     * @param before the destination image as it was before the migration
     * @return {@code null} when the images are equal, else a description of every differing chunk
     */
    public static String explain(Path src, Path dst, Path before, int chunk) throws IOException {
        byte[] s = Files.readAllBytes(src);
        byte[] d = Files.readAllBytes(dst);
        byte[] b = Files.readAllBytes(before);
        if (Arrays.equals(s, d)) {
            return null;
        }
        List<String> lines = new ArrayList<>();
        lines.add(String.format("source %d bytes, destination %d bytes; differing %d-byte chunks:", s.length, d.length, chunk));
        int chunks = (Math.max(s.length, d.length) + chunk - 1) / chunk;
        for (int c = 0; c < chunks; c++) {
            int from = c * chunk;
            int to = Math.min(Math.min(s.length, d.length), from + chunk);
            if (from >= to || Arrays.equals(s, from, to, d, from, to)) {
                continue;
            }
            int first = Arrays.mismatch(Arrays.copyOfRange(s, from, to), Arrays.copyOfRange(d, from, to));
            int last = to - 1;
            while (last > from && s[last] == d[last]) {
                last--;
            }
            lines.add(String.format("  chunk %d (0x%x): bytes 0x%x..0x%x differ; destination holds %s", c, from,
                    from + first, last, whatIs(d, from, to, s, b, chunk)));
        }
        return String.join("\n", lines);
    }

    private static String whatIs(byte[] d, int from, int to, byte[] s, byte[] before, int chunk) {
        if (to <= before.length && Arrays.equals(d, from, to, before, from, to)) {
            return "its bytes from before the migration (never written)";
        }
        boolean zero = true;
        for (int i = from; i < to && zero; i++) {
            zero = d[i] == 0;
        }
        if (zero) {
            return "zeros";
        }
        for (int o = 0; o + (to - from) <= s.length; o += chunk) {
            if (Arrays.equals(d, from, to, s, o, o + (to - from))) {
                return String.format("the source's chunk at 0x%x (written to the wrong place)", o);
            }
        }
        int same = 0;
        for (int i = from; i < to; i++) {
            same += d[i] == s[i] ? 1 : 0;
        }
        int old = 0;
        for (int i = from; i < to && i < before.length; i++) {
            old += d[i] == before[i] ? 1 : 0;
        }
        return String.format("other bytes (%d equal to the source's, %d to the old ones)", same, old);
    }

    /** Copies {@code files} to {@code target/failures/NAME} (the working directory is the module's). */
    public static Path keep(String name, Path... files) throws IOException {
        Path to = Path.of("target", "failures", name);
        Files.createDirectories(to);
        for (Path f : files) {
            Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return to.toAbsolutePath();
    }
}
