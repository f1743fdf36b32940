package io.livemig.savevm;

import io.livemig.channel.ChannelWrapper;
import io.livemig.channel.MigrationChannel;
import io.livemig.channel.MigrationUri;
import io.livemig.channel.TlsMigrationChannel;
import io.livemig.channel.Transports;
import io.livemig.guest.PageSize;
import io.livemig.guest.RunState;
import io.livemig.guest.RunStateGate;
import io.livemig.multifd.MultifdLink;
import io.livemig.stream.CommandDescriptor;
import io.livemig.stream.ConfigurationSection;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.SectionType;
import io.livemig.stream.StreamHeaderDescriptor;
import io.livemig.stream.VmdescWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The source's migration thread: QEMU's {@code migration_thread()} with its setup, pre-copy loop,
 * convergence test and stop-and-copy.
 *
 * <p>Loop (one pass = one {@link #iterationRun()}):
 * <pre>
 *   while status == active:
 *       if the window's budget is not spent: iterationRun()        may complete and return
 *       fail on a stream or return-path error
 *       updateCounters(); if over budget, park until the window ends
 *   iterationRun():
 *       pending = Σ estimate; if pending &lt; threshold: pending = Σ exact (RAM syncs its dirty log)
 *       if (pending == 0 || pending &lt; threshold) and switchover allowed: completion()
 *       else: one pass of the iteration policy
 * </pre>
 * {@code threshold = bandwidth (bytes/ms over the last 100 ms window) × downtime-limit (ms) × 0.9}; it
 * is 0 until the first window has been measured, so only {@code pending == 0} completes before.
 * QEMU's threshold has no 0.9: the bytes are only part of the downtime (stopping the guest, the
 * final sync, the device states, the destination's start and its SHUT come on top), so with the
 * whole limit given to the bytes 3 of 20 live 1 GiB runs ended 1–5 ms over a 300 ms limit.
 *
 * <p>Switchover stops the guest (the downtime clock starts), writes the iterable devices' END
 * sections, the non-iterable FULL sections, EOF and the vmdesc, then, with a return path, waits
 * for the destination's SHUT: the reported downtime covers the destination's load and start, as
 * QEMU's does.
 *
 * <p>Failure and cancel: whatever happens, the guest goes back to the run state it had before the
 * switchover and keeps its memory; only the channel is lost. A destination that stops reading
 * cannot hang the source: a {@link StallWatchdog} closes the channel once a write has moved no
 * byte for {@code x-stall-timeout} ms, and the migration fails with "migration stalled: …".
 *
 * <p>Threading: this object is owned by its thread. Other threads call only {@link #cancel()}
 * (status CAS + closing the channel to unblock I/O + unpark) and read the stats.
 */
public final class MigrationSource implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(MigrationSource.class);
    /** How long to wait for the destination's SHUT after the stream is complete. */
    private static final long SHUT_TIMEOUT_MS = 60_000;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** bounds the TLS handshake after the connect */
    static final Duration TLS_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    /** What a source migration needs from its guest. */
    public record Setup(HandlerRegistry registry, RunStateGate gate, GlobalState globalState, String machine,
                        Optional<UUID> uuid, MigrationParameters params, MigrationCapabilities caps,
                        IterationPolicy policy, MigrationStats stats, MigrationStateMachine state,
                        MigrationEvents events, MultifdLink multifd) {
    }

    private final Setup s;
    private final MigrationUri uri;
    private final Map<SaveStateEntry, DeviceCounters> counters = new IdentityHashMap<>();
    private final SectionWriter sections = new SectionWriter(counters);
    private final PassScheduler scheduler;
    private volatile MigrationChannel channel;
    private volatile Thread thread;
    private volatile String errorDesc;

    private MigrationOutput out;
    private StallWatchdog watchdog;
    private volatile ReturnPathReader returnPath;
    private List<SaveStateEntry> iterative;
    private RateLimiter rate;
    private List<SaveStateEntry> entries;
    private RunState stateBeforeStop;
    private boolean guestStopped;
    private long downtimeStartNanos;
    // bandwidth window (QEMU: iteration_start_time, iteration_initial_bytes/pages)
    private long iterationStartNanos;
    private long iterationInitialBytes;
    private long iterationInitialPages;
    private long lastPending;

    public MigrationSource(Setup setup, MigrationUri uri) {
        this.s = setup;
        this.uri = uri;
        this.scheduler = setup.policy().newScheduler();
    }

    /** Whether the destination has acknowledged switchover (QMP {@code x-switchover-acked}). */
    public boolean switchoverAcked() {
        ReturnPathReader rp = returnPath;
        return rp != null && rp.switchoverAcked();
    }

    /** Starts the migration thread; the status must already be {@code setup}. */
    public void start() {
        thread = Thread.ofPlatform().name("migration").start(this);
    }

    /** The error that failed the migration, or null. */
    public String errorDesc() {
        return errorDesc;
    }

    /**
     * QEMU's {@code migrate_fd_cancel}: moves to cancelling and shuts the channel so a blocked
     * write or read returns; the migration thread then cleans up and reports cancelled.
     */
    public void cancel() {
        MigrationStatus from = s.state().transitionFromAny(MigrationStatus.CANCELLING);
        if (from == null) {
            return;
        }
        MigrationChannel ch = channel;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                LOG.debug("closing channel on cancel", e);
            }
        }
        s.multifd().abortSend();
        Thread t = thread;
        if (t != null) {
            if (from == MigrationStatus.SETUP && ch == null) {
                // still connecting: an interrupt aborts the blocking connect (the channel closes)
                t.interrupt();
            }
            LockSupport.unpark(t);
        }
    }

    public void join(long millis) throws InterruptedException {
        Thread t = thread;
        if (t != null) {
            t.join(millis);
        }
    }

    @Override
    public void run() {
        try {
            setupPhase();
            if (!s.state().transition(MigrationStatus.SETUP, MigrationStatus.ACTIVE)) {
                throw new MigrationException("migration cancelled during setup");
            }
            precopyLoop();
        } catch (Throwable t) {
            fail(t);
        } finally {
            cleanup();
        }
    }

    /** QEMU's migrate_get_current()->parameters.tls_hostname, else the tcp: URI's host. */
    private String tlsHostname() throws MigrationException {
        String name = s.params().tlsHostname();
        if (!name.isEmpty()) {
            return name;
        }
        if (uri instanceof MigrationUri.Tcp tcp && !tcp.host().isEmpty()) {
            return tcp.host();
        }
        throw new MigrationException("TLS: no hostname to verify the destination's certificate against;"
                + " set the tls-hostname parameter (" + uri + " has no host)");
    }

    private void setupPhase() throws IOException, MigrationException {
        long start = System.nanoTime();
        boolean multifd = s.caps().has(Capability.MULTIFD);
        s.multifd().resetSend();
        if (multifd && MultifdLink.unsupportedTransport(uri) != null) {
            throw new MigrationException(MultifdLink.unsupportedTransport(uri));
        }
        String tls = s.params().tlsCreds();
        // every channel, main and multifd, does its own handshake with the same credentials and
        // hostname check (QEMU's migration_tls_channel_connect / multifd_tls_channel_connect)
        ChannelWrapper wrapper = ChannelWrapper.NONE;
        if (!tls.isEmpty()) {
            Path dir = Path.of(tls);
            String hostname = tlsHostname();
            wrapper = plain -> TlsMigrationChannel.client(plain, dir, hostname, TLS_HANDSHAKE_TIMEOUT);
        }
        channel = Transports.connect(uri, CONNECT_TIMEOUT);
        // channel holds the plain socket meanwhile, so a cancel closes it and ends the handshake
        channel = wrapper.wrap(channel);
        if (s.state().status() != MigrationStatus.SETUP) {
            throw new MigrationException("migration cancelled during setup");
        }
        // x-stall-timeout: a destination that stops reading blocks our writes forever; the
        // watchdog closes the channel (as cancel does) once a write moved nothing for that long
        MigrationChannel ch = channel;
        watchdog = new StallWatchdog(s.params()::stallTimeoutMs, () -> closeQuietly(ch)).start("migration stall watchdog");
        out = new MigrationOutput(watchdog.watch(channel.out()));
        if (multifd) {
            // the main channel first, then the multifd ones (QEMU connects them in parallel)
            s.multifd().openSend(uri, s.uuid().orElse(new UUID(0, 0)), CONNECT_TIMEOUT, wrapper);
            if (s.state().status() != MigrationStatus.SETUP) {
                throw new MigrationException("migration cancelled during setup");
            }
        }
        rate = new RateLimiter(this::transferred, s.params().maxBandwidth());
        if (s.caps().has(Capability.RETURN_PATH)) {
            if (!channel.supportsReturnPath()) {
                throw new MigrationException("Unable to open return-path: " + channel.describe() + " has no return path");
            }
            returnPath = new ReturnPathReader(channel.in()).start("return path");
        }
        entries = s.registry().entries().stream().filter(e -> e.handler().isActive()).toList();
        iterative = entries.stream().filter(SaveStateEntry::isIterative).toList();
        if (s.caps().has(Capability.SWITCHOVER_ACK) && returnPath == null) {
            throw new MigrationException("Capability 'switchover-ack' requires capability 'return-path'");
        }
        List<DeviceCounters> published = new java.util.ArrayList<>();
        for (SaveStateEntry e : iterative) {
            DeviceCounters c = new DeviceCounters(e);
            counters.put(e, c);
            published.add(c);
        }
        s.stats().devices = List.copyOf(published);

        StreamHeaderDescriptor.write(out);
        // QEMU's vmstate_uuid_needed: the uuid subsection goes only with validate-uuid and a -uuid
        ConfigurationSection.write(out, s.machine(),
                s.caps().has(Capability.VALIDATE_UUID) ? s.uuid() : Optional.empty());
        if (returnPath != null) {
            CommandDescriptor.writeOpenReturnPath(out);
            CommandDescriptor.writePing(out, 1);
        }
        for (SaveStateEntry e : entries) {
            if (e.isIterative()) {
                sections.start(e, out);
            }
        }
        out.flush();
        checkErrors();
        s.stats().setupTimeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    private void precopyLoop() throws MigrationException, InterruptedException {
        iterationStartNanos = System.nanoTime();
        rate.startWindow(iterationStartNanos);
        iterationInitialBytes = transferred();
        iterationInitialPages = s.stats().pagesSent();
        while (s.state().status() == MigrationStatus.ACTIVE) {
            rate.setMaxBandwidth(s.params().maxBandwidth());
            if (!rate.exceeded()) {
                if (iterationRun()) {
                    return;
                }
            }
            checkErrors();
            rateLimit();
        }
        if (s.state().status() == MigrationStatus.CANCELLING) {
            throw new MigrationException("migration cancelled");
        }
    }

    /** One pass; returns true when the migration completed. */
    private boolean iterationRun() throws MigrationException, InterruptedException {
        long threshold = s.stats().thresholdBytes;
        long pending = pending(threshold, false);
        if (pending < threshold) {
            pending = pending(threshold, true);
        }
        lastPending = pending;
        s.stats().pendingBytes = pending;
        if ((pending == 0 || pending < threshold) && canSwitchover()) {
            completion();
            return true;
        }
        scheduler.runPass(iterative, out, rate, sections);
        return false;
    }

    /** Σ pending over the active devices, estimate or exact, recorded per device for x-devices. */
    private long pending(long threshold, boolean exact) {
        long sum = 0;
        for (SaveStateEntry e : entries) {
            long p = exact ? e.handler().pendingExact(threshold) : e.handler().pendingEstimate(threshold);
            DeviceCounters c = counters.get(e);
            if (c != null) {
                c.pending = p;
            }
            sum += p;
        }
        return sum;
    }

    /**
     * QEMU's {@code migration_can_switchover()}: without switchover-ack always; with it, once the
     * destination has acked, or whenever the guest is not running (a stopped guest gains nothing
     * by waiting).
     */
    private boolean canSwitchover() {
        if (!s.caps().has(Capability.SWITCHOVER_ACK)) {
            return true;
        }
        return !s.gate().state().isRunning() || returnPath.switchoverAcked();
    }

    /** QEMU's {@code migration_rate_limit()} and {@code migration_update_counters()}. */
    private void rateLimit() {
        if (rate.exceeded()) {
            rate.awaitWindowEnd();
        }
        updateCounters(System.nanoTime());
    }

    /** QEMU's {@code migration_transferred_bytes}: the main stream plus the multifd channels. */
    private long transferred() {
        return out.transferred() + s.multifd().sendBytes();
    }

    /** The share of downtime-limit the remaining bytes may take; the rest is for the switchover's fixed costs. */
    static final double SWITCHOVER_BUDGET = 0.9;

    private void updateCounters(long now) {
        long windowNanos = TimeUnit.MILLISECONDS.toNanos(RateLimiter.BUFFER_DELAY_MS);
        if (now - iterationStartNanos < windowNanos) {
            return;
        }
        MigrationStats st = s.stats();
        long transferred = transferred() - iterationInitialBytes;
        double timeSpentMs = (now - iterationStartNanos) / 1e6;
        double bandwidth = transferred / timeSpentMs;
        long avail = s.params().availSwitchoverBandwidth();
        double expectedBwPerMs = avail > 0 ? avail / 1000.0 : bandwidth;
        st.bandwidthBytesPerMs = bandwidth;
        st.thresholdBytes = (long) (expectedBwPerMs * s.params().downtimeLimitMs() * SWITCHOVER_BUDGET);
        st.mbps = transferred * 8.0 / (timeSpentMs / 1000.0) / 1e6;
        st.pagesPerSecond = (long) ((st.pagesSent() - iterationInitialPages) * 1000.0 / timeSpentMs);
        if (transferred > 10_000 && expectedBwPerMs > 0) {
            st.expectedDowntimeMs = (long) (lastPending / expectedBwPerMs);
        }
        st.totalTimeMs = System.currentTimeMillis() - st.startTimeMs;
        // what a window produced goes on the wire by the window's end instead of waiting in the
        // 4 MiB buffer: at a low max-bandwidth the buffer would otherwise hold seconds of stream,
        // and the destination's x-stall-timeout would see a silent source
        out.flush();
        rate.startWindow(now);
        iterationStartNanos = now;
        iterationInitialBytes = transferred();
        iterationInitialPages = st.pagesSent();
    }

    /** Stop-and-copy: QEMU's {@code migration_completion_precopy()}. */
    private void completion() throws MigrationException, InterruptedException {
        downtimeStartNanos = System.nanoTime();
        stateBeforeStop = s.gate().state();
        guestStopped = true;
        s.gate().set(RunState.FINISH_MIGRATE);
        s.globalState().store(stateBeforeStop);
        if (!s.state().transition(MigrationStatus.ACTIVE, MigrationStatus.DEVICE)) {
            throw new MigrationException("migration cancelled");
        }
        rate.setMaxBandwidth(0);
        for (SaveStateEntry e : entries) {
            if (e.isIterative()) {
                sections.end(e, out);
            }
        }
        VmdescWriter vmdesc = new VmdescWriter(PageSize.TARGET_PAGE_SIZE);
        for (SaveStateEntry e : entries) {
            if (e.handler().hasState()) {
                sections.full(e, out, vmdesc);
            }
        }
        out.putU8(SectionType.EOF);
        vmdesc.writeTo(out);
        out.flush();
        checkErrors();
        if (returnPath != null) {
            if (!returnPath.awaitShut(SHUT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                throw new MigrationException("destination did not acknowledge the end of the migration (no SHUT in "
                        + SHUT_TIMEOUT_MS + " ms)");
            }
            if (returnPath.error() != null) {
                throw new MigrationException("return path: " + returnPath.error().getMessage(), returnPath.error());
            }
            if (returnPath.shutValue() != 0) {
                throw new MigrationException("destination reported failure (SHUT " + returnPath.shutValue() + ")");
            }
        }
        closeChannel();
        checkErrors();
        MigrationStats st = s.stats();
        st.downtimeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - downtimeStartNanos);
        st.totalTimeMs = System.currentTimeMillis() - st.startTimeMs;
        long transferTimeMs = Math.max(1, st.totalTimeMs - st.setupTimeMs);
        st.mbps = transferred() * 8.0 / transferTimeMs / 1000.0;
        st.remainingBytes = 0;
        // the guest is postmigrate before anyone can see "completed", so a client that reads
        // query-status right after completed never sees finish-migrate (QEMU sets the run state
        // just after, and its clients must poll); a cancel that wins the race below restores it
        s.gate().set(RunState.POSTMIGRATE);
        if (!s.state().transition(MigrationStatus.DEVICE, MigrationStatus.COMPLETED)) {
            throw new MigrationException("migration cancelled");
        }
        guestStopped = false;
    }

    private void checkErrors() throws MigrationException {
        if (out != null && out.hasError()) {
            Throwable t = out.error();
            throw new MigrationException("Unable to write to socket: " + t.getMessage(), t);
        }
        if (returnPath != null && returnPath.isDone() && returnPath.shutValue() < 0 && returnPath.error() != null) {
            throw new MigrationException("return path: " + returnPath.error().getMessage(), returnPath.error());
        }
        if (s.state().status() == MigrationStatus.CANCELLING) {
            throw new MigrationException("migration cancelled");
        }
    }

    private void fail(Throwable t) {
        if (guestStopped) {
            // nothing is lost: the guest resumes as it was before switchover, and it does so before
            // the status says failed or cancelled, so whoever sees the end sees the guest restored
            s.gate().set(stateBeforeStop);
            guestStopped = false;
        }
        MigrationStatus now = s.state().status();
        if (now == MigrationStatus.CANCELLING) {
            s.state().transition(MigrationStatus.CANCELLING, MigrationStatus.CANCELLED);
        } else {
            StallWatchdog w = watchdog;
            errorDesc = w != null && w.fired() ? w.message()
                    : t.getMessage() != null ? t.getMessage() : t.toString();
            LOG.warn("migration failed: {}", errorDesc, t);
            if (s.state().transitionFromAny(MigrationStatus.FAILED) == null && s.state().status() == MigrationStatus.CANCELLING) {
                s.state().transition(MigrationStatus.CANCELLING, MigrationStatus.CANCELLED);
            }
        }
        if (t instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
    }

    private void cleanup() {
        if (watchdog != null) {
            watchdog.close();
        }
        if (entries != null) {
            for (SaveStateEntry e : entries) {
                try {
                    e.handler().saveCleanup();
                } catch (RuntimeException ex) {
                    LOG.warn("cleanup of {} failed", e, ex);
                }
            }
        }
        s.multifd().closeSend();
        closeChannel();
        if (returnPath != null) {
            try {
                returnPath.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (out != null) {
            out.release();
        }
        s.stats().totalTimeMs = System.currentTimeMillis() - s.stats().startTimeMs;
        s.events().migrationFinished();
    }

    private static void closeQuietly(MigrationChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            LOG.debug("closing a stalled channel", e);
        }
    }

    private void closeChannel() {
        MigrationChannel ch = channel;
        if (ch == null) {
            return;
        }
        try {
            if (out != null) {
                out.flush();
            }
            ch.close();
        } catch (IOException e) {
            if (out != null) {
                out.setError(e);
            }
        }
    }
}
