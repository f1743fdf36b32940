package io.livemig.guest;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for conditions with a hard timeout, without sleeping. */
final class Await {

    private Await() {
    }

    /** Spins (yielding) until {@code condition} holds; fails with {@code message} after {@code timeout}. */
    static void until(BooleanSupplier condition, Duration timeout, Supplier<String> message) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + timeout + ": " + message.get());
            }
            Thread.yield();
        }
    }

    /** Spins (yielding) for {@code window} and fails as soon as {@code invariant} is false. */
    static void holdsFor(BooleanSupplier invariant, Duration window, Supplier<String> message) {
        long end = System.nanoTime() + window.toNanos();
        while (System.nanoTime() - end < 0) {
            if (!invariant.getAsBoolean()) {
                throw new AssertionError(message.get());
            }
            Thread.yield();
        }
    }
}
