package io.livemig.bench.scenario;

/** Sizes as QEMU's command line takes them and as the report prints them. */
final class SizeFormat {

    private SizeFormat() {
    }

    /** {@code 1G}, {@code 64M}, {@code 4K} when exact, else plain bytes. */
    static String qemuSize(long bytes) {
        if (bytes % (1L << 30) == 0) {
            return (bytes >> 30) + "G";
        }
        if (bytes % (1L << 20) == 0) {
            return (bytes >> 20) + "M";
        }
        if (bytes % (1L << 10) == 0) {
            return (bytes >> 10) + "K";
        }
        return Long.toString(bytes);
    }

    /** {@code 1 GiB}, {@code 64 MiB}, or bytes. */
    static String human(long bytes) {
        if (bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes % (1L << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        return bytes + " B";
    }
}
