package io.livemig.cli.testing;

import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

import java.util.SplittableRandom;

/**
 * One seed per test, printed when the test starts and attached to its failure, so a failing
 * seeded run can be repeated: {@code -Dlivemig.seed=N} fixes it (failsafe passes it through).
 *
 * <pre>{@code @RegisterExtension final SeedExtension seed = new SeedExtension();}</pre>
 */
public final class SeedExtension implements BeforeEachCallback, TestExecutionExceptionHandler {

    public static final String PROPERTY = "livemig.seed";

    private long seed;

    /** This test's seed. */
    public long seed() {
        return seed;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        String fixed = System.getProperty(PROPERTY);
        seed = fixed != null && !fixed.isBlank() ? Long.parseLong(fixed.trim()) : new SplittableRandom().nextLong();
        System.out.println(context.getDisplayName() + ": seed " + seed);
    }

    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        failure.addSuppressed(new SeedInfo(seed));
        throw failure;
    }

    /** Carries the seed in the failure's report. */
    private static final class SeedInfo extends Exception {
        private static final long serialVersionUID = 1L;

        SeedInfo(long seed) {
            super("seed " + seed + " (repeat with -D" + PROPERTY + "=" + seed + ")", null, false, false);
        }
    }
}
