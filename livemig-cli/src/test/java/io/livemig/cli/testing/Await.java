package io.livemig.cli.testing;

import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Waits for a condition with a hard timeout, re-checking it every millisecond. */
public final class Await {

    private Await() {
    }

    public static void until(Duration timeout, BooleanSupplier condition, String what) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("not true within " + timeout + ": " + what);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }
}
