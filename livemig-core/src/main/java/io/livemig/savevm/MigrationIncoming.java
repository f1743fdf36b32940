package io.livemig.savevm;

import io.livemig.channel.AuthzSimple;
import io.livemig.channel.ChannelWrapper;
import io.livemig.channel.IncomingListener;
import io.livemig.channel.MigrationChannel;
import io.livemig.channel.MigrationUri;
import io.livemig.channel.TlsMigrationChannel;
import io.livemig.channel.Transports;
import io.livemig.guest.RunState;
import io.livemig.guest.RunStateGate;
import io.livemig.multifd.MultifdLink;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.ReturnPathDescriptor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.function.BooleanSupplier;

/**
 * The destination side of one incoming migration (QEMU's {@code migration_incoming_process()} and
 * {@code process_incoming_migration_bh()}): listens, accepts the one connection, loads the
 * stream, and only then decides the guest's run state.
 *
 * <p>Outcome. On success the guest starts running if the source was running and autostart is
 * on (no {@code -S}, or {@code cont} was given meanwhile); otherwise it takes the source's run
 * state, or {@code paused}. Then SHUT(0) goes back on the return path. On any failure the guest
 * never starts (it stays {@code inmigrate}), SHUT(1) goes back if the return path is open, and
 * the status is {@code failed} with the error kept for {@code query-migrate}.
 *
 * <p>A source that stops sending mid-stream cannot hang the destination: once connected, a
 * {@link StallWatchdog} closes the channel when a read has received nothing for
 * {@code x-stall-timeout} ms (the destination's own parameter). Waiting for the source to connect
 * has no bound.
 *
 * <p>Threading: one incoming thread owns the channel and the handlers' load hooks; {@link #cancel()}
 * closes the listener and channel from another thread to unblock it.
 */
public final class MigrationIncoming implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(MigrationIncoming.class);

    /** What an incoming migration needs from its guest. */
    public record Setup(HandlerRegistry registry, RunStateGate gate, GlobalState globalState, String machine,
                        BooleanSupplier autostart, MigrationCapabilities caps, MigrationParameters params,
                        MigrationStats stats, MigrationStateMachine state, MigrationEvents events,
                        MultifdLink multifd, java.util.Optional<java.util.UUID> uuid,
                        java.util.function.Function<String, AuthzSimple> authz) {
    }

    private final Setup s;
    private final IncomingListener listener;
    private volatile MigrationChannel channel;
    private volatile String errorDesc;
    private StallWatchdog watchdog;
    private Thread thread;

    private MigrationIncoming(Setup setup, IncomingListener listener) {
        this.s = setup;
        this.listener = listener;
    }

    /** Binds {@code uri} (so a bad address fails here, synchronously) and starts waiting for the source. */
    public static MigrationIncoming listen(Setup setup, MigrationUri uri) throws IOException {
        IncomingListener l = Transports.listen(uri);
        MigrationIncoming mi = new MigrationIncoming(setup, l);
        mi.thread = Thread.ofPlatform().name("incoming").start(mi);
        return mi;
    }

    /** The address actually listened on (with the real port for {@code tcp:…:0}). */
    public MigrationUri address() {
        return listener.address();
    }

    public String errorDesc() {
        return errorDesc;
    }

    public void cancel() {
        closeQuietly();
    }

    private static final int LISTENING = 0;
    private static final int CONNECTED = 1;
    private static final int CANCELLED = 2;
    /** LISTENING until the source connects; a cancel wins only while nothing has been read */
    private final java.util.concurrent.atomic.AtomicInteger phase = new java.util.concurrent.atomic.AtomicInteger(LISTENING);

    /**
     * {@code migrate_cancel} on a destination that is still waiting for its source: stops
     * listening. Returns true when it did, i.e. nothing of a stream was loaded, so the guest may
     * go back to the state it had before; false once the source has connected (then the load
     * goes on, as in QEMU).
     */
    public boolean cancelIfNotConnected() {
        if (phase.compareAndSet(LISTENING, CANCELLED)) {
            closeQuietly();
            return true;
        }
        return false;
    }

    public void join(long millis) throws InterruptedException {
        thread.join(millis);
    }

    @Override
    public void run() {
        SavevmLoader loader = null;
        MigrationInput in = null;
        try {
            channel = accept();
            listener.close();
            if (!phase.compareAndSet(LISTENING, CONNECTED)) {
                throw new MigrationException("incoming migration cancelled before the source connected");
            }
            // x-stall-timeout counts only from the connection on: waiting for a source to
            // connect is not a stall (QEMU waits forever, and so do we)
            MigrationChannel ch = channel;
            watchdog = new StallWatchdog(s.params()::stallTimeoutMs, () -> {
                try {
                    ch.close();
                } catch (IOException e) {
                    LOG.debug("closing a stalled channel", e);
                }
            }).start("incoming stall watchdog");
            s.stats().reset(System.currentTimeMillis());
            s.state().transition(MigrationStatus.SETUP, MigrationStatus.ACTIVE);
            s.globalState().resetReceived();
            in = new MigrationInput(watchdog.watch(channel.in()));
            loader = new SavevmLoader(s.registry(), s.caps(), s.machine(), s.uuid(), channel.supportsReturnPath() ? channel.out() : null);
            loader.load(in);
            finishLoad();
            s.stats().totalTimeMs = System.currentTimeMillis() - s.stats().startTimeMs;
            s.state().transition(MigrationStatus.ACTIVE, MigrationStatus.COMPLETED);
            sendShut(loader, 0);
        } catch (Throwable t) {
            StallWatchdog w = watchdog;
            String why = w != null && w.fired() ? w.message() + " (no data from the source)"
                    : t.getMessage() != null ? t.getMessage() : t.toString();
            errorDesc = "load of migration failed: " + why;
            LOG.warn("{}", errorDesc, t);
            s.state().transitionFromAny(MigrationStatus.FAILED);
            sendShut(loader, 1);
        } finally {
            if (watchdog != null) {
                watchdog.close();
            }
            for (SaveStateEntry e : s.registry().entries()) {
                e.handler().loadCleanup();
            }
            closeQuietly();
            if (in != null) {
                in.release();
            }
            s.events().migrationFinished();
        }
    }

    /**
     * The main channel; with capability {@code multifd}, also the {@code multifd-channels} extra
     * connections, classified by their first bytes (QEMU 9.x's migration_ioc_process_incoming).
     */
    private MigrationChannel accept() throws IOException, MigrationException {
        MigrationChannel first = listener.accept();
        // the capabilities and tls-* parameters as they are when the source arrives (they may be set after -incoming)
        ChannelWrapper wrapper;
        try {
            wrapper = tlsWrapper();
        } catch (MigrationException e) {
            first.close();
            throw e;
        }
        if (!s.caps().has(Capability.MULTIFD)) {
            // bounded by the handshake timeout; a cancel meanwhile takes effect once it returns
            return wrapper.wrap(first);
        }
        String unsupported = MultifdLink.unsupportedTransport(listener.address());
        if (unsupported != null) {
            first.close();
            throw new MigrationException(unsupported);
        }
        // every connection, main and multifd, does its own handshake with the same credentials
        // and authz (QEMU's migration_channel_process_incoming with TLS), then is classified
        return s.multifd().acceptAll(listener, first, wrapper, s.uuid().orElse(new java.util.UUID(0, 0)));
    }

    /**
     * TLS server handshakes with {@code tls-creds} and, if set, the {@code tls-authz} object,
     * resolved now (QEMU resolves it at each handshake: a deleted or mistyped object fails the
     * connection with "Cannot find QAuthZ object ID ID").
     */
    private ChannelWrapper tlsWrapper() throws MigrationException {
        String tls = s.params().tlsCreds();
        if (tls.isEmpty()) {
            return ChannelWrapper.NONE;
        }
        String authzId = s.params().tlsAuthz();
        AuthzSimple authz = null;
        if (!authzId.isEmpty()) {
            authz = s.authz().apply(authzId);
            if (authz == null) {
                throw new MigrationException("TLS: Cannot find QAuthZ object ID " + authzId + " (parameter tls-authz)");
            }
        }
        java.nio.file.Path dir = java.nio.file.Path.of(tls);
        AuthzSimple checked = authz;
        return plain -> TlsMigrationChannel.server(plain, dir, checked, MigrationSource.TLS_HANDSHAKE_TIMEOUT);
    }

    /** QEMU's {@code process_incoming_migration_bh}: the run state after a complete load. */
    private void finishLoad() {
        RunState sent = s.globalState().received();
        RunState next;
        if (sent == null || sent == RunState.RUNNING) {
            next = s.autostart().getAsBoolean() ? RunState.RUNNING : RunState.PAUSED;
        } else {
            next = sent;
        }
        s.gate().set(next);
    }

    private void sendShut(SavevmLoader loader, int value) {
        MigrationChannel ch = channel;
        if (loader == null || ch == null || !loader.returnPathOpen()) {
            return;
        }
        try {
            ReturnPathDescriptor.write(ch.out(), ReturnPathDescriptor.encodeBe32(ReturnPathDescriptor.SHUT, value));
        } catch (IOException e) {
            LOG.debug("sending SHUT({}) failed", value, e);
        }
    }

    private void closeQuietly() {
        try {
            listener.close();
        } catch (IOException e) {
            LOG.debug("closing listener", e);
        }
        s.multifd().closeIncoming();
        MigrationChannel ch = channel;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                LOG.debug("closing channel", e);
            }
        }
    }
}
