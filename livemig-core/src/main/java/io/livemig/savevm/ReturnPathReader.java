package io.livemig.savevm;

import io.livemig.stream.ReturnPathDescriptor;

import java.nio.channels.ReadableByteChannel;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The source's return-path thread (QEMU's {@code source_return_path_thread}): reads the
 * destination's messages until SHUT, and records what they say. Owns its channel's read side;
 * the migration thread only reads the volatile results and waits on {@link #awaitShut}.
 */
public final class ReturnPathReader implements Runnable {

    private final ReadableByteChannel in;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile int shutValue = -1;
    private volatile long lastPong = -1;
    private volatile boolean switchoverAcked;
    private volatile Throwable error;
    private Thread thread;

    public ReturnPathReader(ReadableByteChannel in) {
        this.in = in;
    }

    public ReturnPathReader start(String name) {
        thread = Thread.ofPlatform().daemon().name(name).start(this);
        return this;
    }

    @Override
    public void run() {
        try {
            while (true) {
                ReturnPathDescriptor.Message m = ReturnPathDescriptor.read(in);
                if (m == null) {
                    error = new java.io.EOFException("return path closed by the destination before SHUT");
                    return;
                }
                switch (m.type()) {
                    case ReturnPathDescriptor.SHUT -> {
                        shutValue = m.be32();
                        return;
                    }
                    case ReturnPathDescriptor.PONG -> lastPong = Integer.toUnsignedLong(m.be32());
                    case ReturnPathDescriptor.SWITCHOVER_ACK -> switchoverAcked = true;
                    default -> {
                        error = new io.livemig.stream.StreamException("unexpected return-path message "
                                + ReturnPathDescriptor.name(m.type()));
                        return;
                    }
                }
            }
        } catch (Throwable t) {
            error = t;
        } finally {
            done.countDown();
        }
    }

    /** Waits for the thread to end (SHUT, error or close); returns false on timeout. */
    public boolean awaitShut(long timeout, TimeUnit unit) throws InterruptedException {
        return done.await(timeout, unit);
    }

    public boolean isDone() {
        return done.getCount() == 0;
    }

    /** SHUT's value (0 = destination done), or -1 when no SHUT arrived. */
    public int shutValue() {
        return shutValue;
    }

    public long lastPong() {
        return lastPong;
    }

    public boolean switchoverAcked() {
        return switchoverAcked;
    }

    /** The error that ended the thread before SHUT, or null. */
    public Throwable error() {
        return error;
    }

    public void join(long millis) throws InterruptedException {
        if (thread != null) {
            thread.join(millis);
        }
    }
}
