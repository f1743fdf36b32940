package io.livemig.channel;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.fail;

/** A body run on its own platform thread, so a test can see where that thread is blocked. */
record Forked<T>(Thread thread, CompletableFuture<T> future) {

    static <T> Forked<T> fork(String name, Callable<T> body) {
        CompletableFuture<T> future = new CompletableFuture<>();
        Thread thread = Thread.ofPlatform().name(name).daemon().unstarted(() -> {
            try {
                future.complete(body.call());
            } catch (Throwable t) {
                future.completeExceptionally(t);
            }
        });
        thread.start();
        return new Forked<>(thread, future);
    }

    /** Waits until the thread is inside one of {@code methods} (e.g. a native read), or done. */
    void awaitInside(String... methods) {
        java.util.List<String> names = java.util.List.of(methods);
        await(() -> future.isDone()
                        || Arrays.stream(thread.getStackTrace()).anyMatch(f -> names.contains(f.getMethodName())),
                Duration.ofSeconds(10), thread.getName() + " to enter one of " + names);
    }

    static void await(BooleanSupplier condition, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after %s waiting for %s", timeout, what);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }
}
