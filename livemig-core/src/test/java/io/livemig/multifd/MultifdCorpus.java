package io.livemig.multifd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The text form of a multifd fuzz case ({@code src/test/resources/fuzz-corpus-multifd/*.hex}):
 * <pre>
 * # free comment lines
 * # compression: none|zlib|zstd
 * # channels: 2
 * # flushes: 1              MULTIFD_FLUSH records the main stream holds
 * # expect: TEXT            optional: the case must fail with TEXT in its message
 * # connection              then the bytes of one connection, in arrival order:
 * 11223344 00000001 ...     hex (whitespace ignored)
 * zeros 1024                a run of that many zero bytes
 * # connection
 * ...
 * </pre>
 */
final class MultifdCorpus {

    private MultifdCorpus() {
    }

    record Entry(MultifdFuzzHarness.Input input, String expect) {
    }

    static Entry parse(Path file) throws IOException {
        MultifdCompression compression = MultifdCompression.NONE;
        int channels = MultifdFuzzSeeds.CHANNELS;
        int flushes = 0;
        String expect = null;
        List<byte[]> conns = new ArrayList<>();
        java.io.ByteArrayOutputStream cur = null;
        for (String line : Files.readAllLines(file, StandardCharsets.US_ASCII)) {
            String l = line.strip();
            if (l.startsWith("# compression: ")) {
                compression = MultifdCompression.fromQapi(l.substring("# compression: ".length()).strip());
            } else if (l.startsWith("# channels: ")) {
                channels = Integer.parseInt(l.substring("# channels: ".length()).strip());
            } else if (l.startsWith("# flushes: ")) {
                flushes = Integer.parseInt(l.substring("# flushes: ".length()).strip());
            } else if (l.startsWith("# expect: ")) {
                expect = l.substring("# expect: ".length()).strip();
            } else if (l.equals("# connection")) {
                if (cur != null) {
                    conns.add(cur.toByteArray());
                }
                cur = new java.io.ByteArrayOutputStream();
            } else if (l.startsWith("#") || l.isEmpty()) {
                continue;
            } else if (cur == null) {
                throw new IOException(file + ": bytes before the first '# connection' line");
            } else if (l.startsWith("zeros ")) {
                cur.write(new byte[Integer.parseInt(l.substring("zeros ".length()).strip())]);
            } else {
                cur.write(HexFormat.of().parseHex(l.replaceAll("\\s+", "")));
            }
        }
        if (cur != null) {
            conns.add(cur.toByteArray());
        }
        return new Entry(new MultifdFuzzHarness.Input(compression, channels, conns, flushes, 1 << 20, true), expect);
    }

    static String format(MultifdFuzzHarness.Input in, String comment) {
        StringBuilder sb = new StringBuilder();
        if (comment != null) {
            for (String c : comment.split("\n")) {
                sb.append("# ").append(c).append('\n');
            }
        }
        sb.append("# compression: ").append(in.compression().qapiName()).append('\n');
        sb.append("# channels: ").append(in.channels()).append('\n');
        sb.append("# flushes: ").append(in.flushes()).append('\n');
        HexFormat hex = HexFormat.of();
        for (byte[] b : in.connections()) {
            sb.append("# connection\n");
            int i = 0;
            while (i < b.length) {
                int z = i;
                while (z < b.length && b[z] == 0) {
                    z++;
                }
                if (z - i >= 32) {
                    sb.append("zeros ").append(z - i).append('\n');
                    i = z;
                    continue;
                }
                int end = Math.min(b.length, i + 32);
                // stop the hex line where a long zero run starts
                for (int j = i; j < end; j++) {
                    int k = j;
                    while (k < b.length && b[k] == 0) {
                        k++;
                    }
                    if (k - j >= 32) {
                        end = Math.max(j, i + 1);
                        break;
                    }
                }
                sb.append(hex.formatHex(b, i, end)).append('\n');
                i = end;
            }
        }
        return sb.toString();
    }
}
