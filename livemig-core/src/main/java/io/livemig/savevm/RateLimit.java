package io.livemig.savevm;

/** What an iterating device asks of the rate limiter: whether the current window's budget is spent. */
@FunctionalInterface
public interface RateLimit {

    /** A limit that is never exceeded (stop-and-copy). */
    RateLimit UNLIMITED = () -> false;

    boolean exceeded();
}
