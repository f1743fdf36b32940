package io.livemig.channel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code exec:CMD}, QEMU's migration/exec.c over a QIOChannelCommand: {@code /bin/sh -c CMD}
 * whose stdin carries the stream on the source (stdout discarded) and whose stdout carries it on
 * the destination (stdin from /dev/null). stderr is inherited, as in QEMU, so the child can never
 * block on it. One direction only; the other is a {@link NoReturnPath}.
 *
 * <p>Closing. Closing a pipe does not wake a thread blocked in read(2) or write(2) on it, and the
 * JDK's process streams lock against such a thread, so an abort must kill the command tree first
 * (descendants too: {@code sh} may have forked {@code ssh} or {@code cat}, which hold the pipe).
 * {@link #close()} therefore distinguishes:
 * <ul>
 *   <li>source, no write in flight (the normal end): flush and close stdin so the command sees
 *       EOF, wait up to {@value #EXIT_WAIT_SECONDS} s for it to finish writing wherever it writes,
 *       then kill whatever is left; a non-zero exit status or a kill is reported as an
 *       IOException, because the stream may not have reached its target;</li>
 *   <li>a write in flight, or the destination side (a reader has nothing to lose): kill the
 *       command tree at once, the command first and each descendant after its parent (so no shell
 *       in the tree lives to run the rest of its script when its child dies), which makes the
 *       blocked write fail (EPIPE) or the blocked read end, then close the pipes.</li>
 * </ul>
 * When close() returns, the command has exited and been reaped, and its descendants are gone
 * (bounded by {@value #EXIT_WAIT_SECONDS} s each; one stuck in uninterruptible sleep is beyond
 * reach).
 * A read or write that ends because of close throws {@link AsynchronousCloseException}, never a
 * silent EOF. The in-flight count and the closing flag form a Dekker pair (volatile increment,
 * then volatile read, on each side), so either the writer sees {@code closing} or close sees the
 * writer.
 */
final class ExecMigrationChannel implements MigrationChannel {

    static final int EXIT_WAIT_SECONDS = 5;
    private static final NoReturnPath NO_RETURN_PATH = new NoReturnPath("exec");

    private final Process process;
    private final boolean source;
    private final String description;
    private final ReadableByteChannel in;
    private final WritableByteChannel out;
    private final ReadableByteChannel stdout;
    private final WritableByteChannel stdin;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean closing;

    private ExecMigrationChannel(Process process, boolean source, String description) {
        this.process = process;
        this.source = source;
        this.description = description;
        this.stdin = Channels.newChannel(process.getOutputStream());
        this.stdout = Channels.newChannel(process.getInputStream());
        this.in = source ? NO_RETURN_PATH : new Input();
        this.out = source ? new Output() : NO_RETURN_PATH;
    }

    /**
     * Starts {@code /bin/sh -c CMD}.
     *
     * @param source true: the stream goes to its stdin; false: it comes from its stdout
     */
    static ExecMigrationChannel start(MigrationUri.Exec uri, boolean source) throws IOException {
        ProcessBuilder builder = new ProcessBuilder("/bin/sh", "-c", uri.command())
                .redirectError(ProcessBuilder.Redirect.INHERIT);
        if (source) {
            builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        } else {
            builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        try {
            return new ExecMigrationChannel(builder.start(), source, uri.toString());
        } catch (IOException e) {
            throw new IOException(uri + ": failed to start /bin/sh: " + e.getMessage(), e);
        }
    }

    @Override
    public ReadableByteChannel in() {
        return in;
    }

    @Override
    public WritableByteChannel out() {
        return out;
    }

    @Override
    public boolean supportsReturnPath() {
        return false;
    }

    /** Source: flush and close the command's stdin (EOF), without waiting for it to exit. */
    @Override
    public void shutdownOutput() throws IOException {
        if (source) {
            stdin.close();
        }
    }

    @Override
    public String describe() {
        return description;
    }

    /** The command's process, for diagnostics and tests. */
    Process process() {
        return process;
    }

    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        closing = true;
        IOException failure = null;
        if (source && inFlight.get() == 0) {
            failure = finishGracefully();
        }
        killTree();
        failure = closeQuietly(stdin, failure);
        failure = closeQuietly(stdout, failure);
        process.getErrorStream().close();
        if (failure != null) {
            throw failure;
        }
    }

    private IOException finishGracefully() {
        IOException flushFailure = closeQuietly(stdin, null);
        try {
            if (!process.waitFor(EXIT_WAIT_SECONDS, TimeUnit.SECONDS)) {
                return new IOException(description + ": command did not exit within " + EXIT_WAIT_SECONDS
                        + " s after the end of the stream; killed it");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new IOException(description + ": interrupted while waiting for the command to exit", e);
        }
        if (process.exitValue() != 0) {
            // the status explains a flush failure (EPIPE), not the other way round
            IOException failure = new IOException(description + ": command exited with status " + process.exitValue());
            if (flushFailure != null) {
                failure.addSuppressed(flushFailure);
            }
            return failure;
        }
        return flushFailure;
    }

    /**
     * SIGKILL to the command and everything it started, parents before children, then a bounded
     * wait until they are gone.
     *
     * <p>The order matters. A shell whose child dies goes on with its script: killing {@code sleep}
     * in {@code sh -c 'sleep 60; echo never'} before {@code sh} let the shell run {@code echo never}
     * in between, and a reader that close() was ending got those bytes as data (or, for
     * {@code cmd; rm f}, the rm would run). A process with SIGKILL pending runs no more user code,
     * so once every ancestor of a process has been sent SIGKILL, nothing in the tree can react to
     * its death. The tree is captured before the first kill: once the command is dead its children
     * are re-parented to init and {@link Process#descendants()} no longer finds them. A process
     * forked between the capture and its parent's kill escapes; the pipes close anyway.
     *
     * <p>The command is killed through its {@link ProcessHandle}, not {@link Process#destroyForcibly()}:
     * the latter also closes the process's streams, and closing stdin waits for the lock a blocked
     * writer holds, so it would hang until the descendants still holding the pipe died on their own.
     */
    private void killTree() {
        if (!process.isAlive()) {
            return;
        }
        java.util.List<ProcessHandle> tree = parentsFirst(process.pid(), process.descendants().toList());
        process.toHandle().destroyForcibly();
        tree.forEach(ProcessHandle::destroyForcibly);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(EXIT_WAIT_SECONDS);
        try {
            process.waitFor(EXIT_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        // Grandchildren are not ours to wait(2) for, and onExit() polls them with a slow backoff;
        // a 1 ms poll ends as soon as init has reaped them. One that outlives SIGKILL (stuck in D
        // state) is beyond our reach; the pipes close anyway.
        while (tree.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline
                && !Thread.currentThread().isInterrupted()) {
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }

    /**
     * {@code descendants} ordered by depth below {@code root} (the JDK happens to list them
     * breadth-first, but does not promise it). One whose parent is not in the snapshot (it exited
     * and was re-parented since) counts as a child of the root.
     */
    static java.util.List<ProcessHandle> parentsFirst(long root, java.util.List<ProcessHandle> descendants) {
        java.util.Map<Long, Long> parentOf = new java.util.HashMap<>();
        for (ProcessHandle handle : descendants) {
            parentOf.put(handle.pid(), handle.parent().map(ProcessHandle::pid).orElse(root));
        }
        java.util.Map<Long, Integer> depth = new java.util.HashMap<>();
        for (ProcessHandle handle : descendants) {
            int d = 0;
            long pid = handle.pid();
            // bounded by the snapshot's size, so a pid reused into a cycle cannot loop forever
            while (pid != root && parentOf.containsKey(pid) && d <= descendants.size()) {
                pid = parentOf.get(pid);
                d++;
            }
            depth.put(handle.pid(), d);
        }
        return descendants.stream()
                .sorted(java.util.Comparator.comparingInt(handle -> depth.get(handle.pid())))
                .toList();
    }

    private static IOException closeQuietly(java.nio.channels.Channel channel, IOException failure) {
        try {
            channel.close();
        } catch (IOException e) {
            if (failure == null) {
                return e;
            }
            failure.addSuppressed(e);
        }
        return failure;
    }

    private IOException closedDuring(IOException cause) {
        AsynchronousCloseException e = new AsynchronousCloseException();
        e.initCause(cause);
        return e;
    }

    /** Explains a failed write: usually the command exited (EPIPE) and its status says why. */
    private IOException writeFailed(IOException cause) {
        if (process.isAlive()) {
            return cause;
        }
        return new IOException(description + ": command exited with status " + process.exitValue()
                + ": " + cause.getMessage(), cause);
    }

    @Override
    public String toString() {
        return "ExecMigrationChannel[" + description + (source ? ", writing]" : ", reading]");
    }

    /** The command's stdin, with close-awareness; allocates nothing per call. */
    private final class Output implements WritableByteChannel {
        @Override
        public int write(ByteBuffer src) throws IOException {
            inFlight.incrementAndGet();
            try {
                if (closing) {
                    throw new ClosedChannelException();
                }
                return stdin.write(src);
            } catch (ClosedChannelException e) {
                throw e;
            } catch (IOException e) {
                throw closing ? closedDuring(e) : writeFailed(e);
            } finally {
                inFlight.decrementAndGet();
            }
        }

        @Override
        public boolean isOpen() {
            return !closing && stdin.isOpen();
        }

        @Override
        public void close() throws IOException {
            stdin.close();
        }
    }

    /** The command's stdout, with close-awareness: an EOF caused by close is not a clean end. */
    private final class Input implements ReadableByteChannel {
        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (closing) {
                throw new ClosedChannelException();
            }
            int n;
            try {
                n = stdout.read(dst);
            } catch (ClosedChannelException e) {
                throw e;
            } catch (IOException e) {
                throw closing ? closedDuring(e) : e;
            }
            if (n < 0 && closing) {
                throw new AsynchronousCloseException();
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return !closing && stdout.isOpen();
        }

        @Override
        public void close() throws IOException {
            stdout.close();
        }
    }
}
