package io.livemig.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs loads on one worker thread with a hard time bound and judges each outcome:
 * <ul>
 *   <li>ends within {@link #TIME_BOUND_SECONDS};</li>
 *   <li>a failure is an {@link IOException} with a message, and nothing in its cause chain is a
 *       {@link RuntimeException} or an {@link Error} (those are bugs the loader only wrapped);</li>
 *   <li>the loader's heap allocation stays under the guest's declared size plus
 *       {@link #SLACK_BYTES}.</li>
 * </ul>
 */
final class FuzzHarness implements AutoCloseable {

    static final long TIME_BOUND_SECONDS = 5;
    /** Headroom over the declared guest size: the stream's own small objects (names, records). */
    static final long SLACK_BYTES = 8L << 20;

    private final FuzzDestination dest;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fuzz-loader");
        t.setDaemon(true);
        return t;
    });

    FuzzHarness(FuzzDestination dest) {
        this.dest = dest;
    }

    /** The outcome and, if the case broke a rule, what was wrong (else null). */
    record Verdict(FuzzDestination.Outcome outcome, String problem) {
    }

    Verdict run(byte[] input, int bufferSize, long extraAllowance) throws InterruptedException {
        Future<FuzzDestination.Outcome> f = worker.submit(() -> dest.load(input, bufferSize));
        FuzzDestination.Outcome o;
        try {
            o = f.get(TIME_BOUND_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            return new Verdict(null, "did not end within " + TIME_BOUND_SECONDS + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            return new Verdict(null, "harness failure: " + e.getCause());
        }
        return new Verdict(o, judge(o, extraAllowance));
    }

    static String judge(FuzzDestination.Outcome o, long extraAllowance) {
        long limit = FuzzDestination.declaredBytes() + SLACK_BYTES + extraAllowance;
        if (o.allocatedBytes() > limit) {
            return "allocated " + o.allocatedBytes() + " bytes on the heap, over the bound of " + limit;
        }
        return FuzzVerdicts.judgeError(o.error());
    }

    /** Keeps a failing input under target/fuzz-failures for a corpus entry. */
    static Path keep(String name, byte[] input) {
        try {
            Path dir = Path.of("target", "fuzz-failures");
            Files.createDirectories(dir);
            return Files.write(dir.resolve(name), input);
        } catch (IOException e) {
            return Path.of("(not kept: " + e + ")");
        }
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
