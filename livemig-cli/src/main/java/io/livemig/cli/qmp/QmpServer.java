package io.livemig.cli.qmp;

import io.livemig.vm.VirtualMachine;
import io.livemig.vm.VmEventListener;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The QMP monitor of a livemig VM process: listens on every {@code -qmp} address and serves any
 * number of clients (up to {@link #MAX_CLIENTS}), each a {@link QmpSession} with its own
 * negotiation state. Events from the {@link VirtualMachine} are formatted once, timestamped as
 * QEMU does ({@code {"timestamp": {"seconds", "microseconds"}, "event", "data"}}), and queued to
 * every negotiated client without blocking the emitting thread.
 *
 * <p>Threads: one virtual accept thread per listener; sessions run their own threads. The session
 * set is concurrent; broadcast iterates it weakly consistently (a client that connects during a
 * broadcast may miss that event, as it would in QEMU). {@code quit} runs the {@code onQuit}
 * callback once, after queuing SHUTDOWN and the reply; later SHUTDOWN events from the facade are
 * not repeated.
 */
public final class QmpServer implements AutoCloseable {

    public static final int MAX_CLIENTS = 128;

    private final VirtualMachine vm;
    private final QmpVersion version;
    private final QmpDispatcher dispatcher;
    private final Runnable onQuit;
    private final List<QmpListener> listeners = new ArrayList<>();
    private final Set<QmpSession> sessions = ConcurrentHashMap.newKeySet();
    private final VmEventListener eventListener = this::onVmEvent;
    private volatile boolean quitting;

    private QmpServer(VirtualMachine vm, String livemigVersion, Runnable onQuit) {
        this.vm = vm;
        this.version = QmpVersion.livemig(livemigVersion);
        this.dispatcher = new QmpDispatcher(vm, version);
        this.onQuit = onQuit;
    }

    /**
     * Starts listening on {@code addresses}; fails (and releases what was opened) if any cannot be bound.
     *
     * @param onQuit run once, on a client's thread, after the {@code quit} reply is queued
     */
    public static QmpServer start(VirtualMachine vm, List<QmpAddress> addresses, String livemigVersion,
                                  Runnable onQuit) throws IOException {
        QmpServer server = new QmpServer(vm, livemigVersion, onQuit);
        try {
            for (QmpAddress a : addresses) {
                server.listeners.add(QmpListener.open(a));
            }
        } catch (IOException e) {
            server.close();
            throw e;
        }
        vm.addEventListener(server.eventListener);
        for (QmpListener l : server.listeners) {
            Thread.ofVirtual().name("qmp-accept-" + l.address()).start(() -> server.acceptLoop(l));
        }
        return server;
    }

    private void acceptLoop(QmpListener listener) {
        while (true) {
            SocketChannel ch;
            try {
                ch = listener.channel().accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!listener.channel().isOpen()) {
                    return;
                }
                continue;
            }
            if (quitting || sessions.size() >= MAX_CLIENTS) {
                closeQuietly(ch);
                continue;
            }
            QmpSession s = new QmpSession(ch, this, dispatcher);
            sessions.add(s);
            s.start(version.greeting());
        }
    }

    /** The VM's event listener: queues the event to every negotiated client; never blocks. */
    void onVmEvent(String event, Map<String, Object> data) {
        if (quitting && event.equals("SHUTDOWN")) {
            return;
        }
        sendEvent(event, data);
    }

    private void sendEvent(String event, Map<String, Object> data) {
        Instant now = Instant.now();
        Map<String, Object> ts = new LinkedHashMap<>();
        ts.put("seconds", now.getEpochSecond());
        ts.put("microseconds", now.getNano() / 1000);
        Map<String, Object> msg = new LinkedHashMap<>();
        msg.put("timestamp", ts);
        msg.put("event", event);
        if (data != null && !data.isEmpty()) {
            msg.put("data", data);
        }
        String json = QmpJson.write(msg);
        for (QmpSession s : sessions) {
            s.offerEvent(json);
        }
    }

    /** Called by the session that received {@code quit}, after SHUTDOWN and the reply are queued. */
    void quit() {
        if (!quitting) {
            quitting = true;
            onQuit.run();
        }
    }

    /** Emits QEMU's SHUTDOWN for {@code quit}; the session queues its reply right after. */
    void shutdownEvent() {
        shutdownEvent("host-qmp-quit");
    }

    /** Emits QEMU's SHUTDOWN for a termination signal ({@code reason: host-signal}). */
    public void signalShutdown() {
        if (!quitting) {
            shutdownEvent("host-signal");
            quitting = true;
        }
    }

    private void shutdownEvent(String reason) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("guest", false);
        data.put("reason", reason);
        sendEvent("SHUTDOWN", data);
    }

    void remove(QmpSession s) {
        sessions.remove(s);
    }

    /** The local ports of the TCP listeners, in {@code -qmp} order (useful with port 0). */
    public List<Integer> boundPorts() {
        List<Integer> ports = new ArrayList<>();
        for (QmpListener l : listeners) {
            try {
                if (l.channel().getLocalAddress() instanceof java.net.InetSocketAddress a) {
                    ports.add(a.getPort());
                }
            } catch (IOException e) {
                // closed: no port
            }
        }
        return ports;
    }

    /** Number of connected clients (for tests and diagnostics). */
    public int clientCount() {
        return sessions.size();
    }

    /**
     * Stops listening, lets each client receive what is queued for it (up to {@code millis} in
     * all), then disconnects everyone.
     */
    public void close(long millis) {
        quitting = true;
        vm.removeEventListener(eventListener);
        for (QmpListener l : listeners) {
            try {
                l.close();
            } catch (IOException e) {
                // best effort: the process is going away
            }
        }
        List<QmpSession> all = new ArrayList<>(sessions);
        all.forEach(QmpSession::finish);
        long deadline = System.nanoTime() + millis * 1_000_000;
        try {
            for (QmpSession s : all) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0 || !s.awaitFinished(left)) {
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        all.forEach(QmpSession::close);
    }

    @Override
    public void close() {
        close(0);
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing to do
        }
    }
}
