package io.livemig.bench.scenario;

/**
 * How one run migrates: its channel count and, with multifd, its {@code multifd-compression}. The
 * runner makes one run of each variant per round and engine, in the order
 * {@link ScenarioOptions#variants()} gives.
 *
 * @param channels    1 for the classic single stream (without compression), else multifd channels
 * @param compression the {@code multifd-compression} with multifd, or null without multifd (one
 *                    channel, no {@code --compression})
 */
public record Variant(int channels, String compression) {

    /** Whether this run sets the {@code multifd} capability (and {@code -incoming defer}). */
    public boolean multifd() {
        return compression != null;
    }

    /** A short name for file names: {@code 2ch-zstd}, {@code 1ch}. */
    String tag() {
        return channels + "ch" + (compression == null ? "" : "-" + compression);
    }
}
