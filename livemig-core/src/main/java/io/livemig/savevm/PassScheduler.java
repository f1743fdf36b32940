package io.livemig.savevm;

import io.livemig.stream.MigrationOutput;

import java.util.List;

/** Runs one pre-copy pass over the active iterative devices (see {@link IterationPolicy}). */
public interface PassScheduler {

    /**
     * @param entries the active iterative devices, in registry order
     * @return 1 if every device reported finished, 0 if some did not (or the budget ran out),
     *         negative on error (the stream error is then set and the pass ended at once)
     */
    int runPass(List<SaveStateEntry> entries, MigrationOutput out, RateLimiter rate, SectionWriter writer);
}
