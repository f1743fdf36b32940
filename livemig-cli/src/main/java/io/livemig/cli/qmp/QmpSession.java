package io.livemig.cli.qmp;

import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One QMP client connection, QEMU's {@code MonitorQMP}: its own capabilities-negotiation state,
 * a reader and a writer.
 *
 * <p>Concurrency: two platform threads per client. The reader owns the socket's input and the
 * {@link JsonFramer}; it parses, dispatches and queues each reply in order. Everything written —
 * greeting, replies, events — goes through one bounded queue drained by the writer, the only
 * thread that writes to the socket. Producers never block: {@link #offer} fails at once when the
 * queue is full, and the client is then dropped, so a slow or stuck client can stall neither other
 * clients nor the VM thread that broadcasts an event. {@code negotiated} is volatile because the
 * broadcasting thread reads it. {@link #close} is idempotent and may be called from any thread.
 */
final class QmpSession implements QmpDispatcher.Session {

    /** Messages waiting for a slow client before it is dropped. */
    static final int OUTBOX_CAPACITY = 1024;

    private static final String EOL = "\r\n";
    private static final String END = new String("end-of-session"); // identity marker, never sent

    private final SocketChannel channel;
    private final QmpServer server;
    private final QmpDispatcher dispatcher;
    private final BlockingQueue<String> outbox = new ArrayBlockingQueue<>(OUTBOX_CAPACITY);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch writerDone = new CountDownLatch(1);
    private volatile boolean negotiated;
    private volatile boolean oob;
    private boolean quitRequested;

    QmpSession(SocketChannel channel, QmpServer server, QmpDispatcher dispatcher) {
        this.channel = channel;
        this.server = server;
        this.dispatcher = dispatcher;
    }

    void start(String greeting) {
        offer(greeting);
        // Platform threads, not virtual ones: virtual threads are not time-sliced, so a few clients
        // flooding input keep their readers runnable and hold every carrier (one per core), and
        // the other clients' readers never run. The OS scheduler shares the CPU among platform
        // threads; MAX_CLIENTS bounds their number.
        Thread.ofPlatform().daemon().name("qmp-writer").start(this::writeLoop);
        Thread.ofPlatform().daemon().name("qmp-reader").start(this::readLoop);
    }

    /** Queues a message without blocking; drops the client when its queue is full. */
    void offer(String json) {
        if (closed.get()) {
            return;
        }
        if (!outbox.offer(json)) {
            close();
        }
    }

    /** Queues an event if the client has negotiated capabilities (QEMU sends none before). */
    void offerEvent(String json) {
        if (negotiated) {
            offer(json);
        }
    }

    private void readLoop() {
        JsonFramer framer = new JsonFramer();
        byte[] chunk = new byte[8192];
        boolean discarding = false;
        // the streams are not closed here: closing one would close the channel under the writer
        InputStream in = Channels.newInputStream(channel);
        try {
            int n;
            while (!closed.get() && (n = in.read(chunk)) > 0) {
                for (int i = 0; i < n && !discarding; i++) {
                    JsonFramer.Result r = framer.feed(chunk[i]);
                    switch (r) {
                        case NONE -> {
                        }
                        case VALUE, VALUE_REFEED -> {
                            handle(framer.value(), framer.length());
                            if (r == JsonFramer.Result.VALUE_REFEED) {
                                i--;
                            }
                        }
                        case TOO_DEEP -> offer(errorReply("JSON nesting depth limit exceeded"));
                        case TOO_LARGE -> {
                            // Reply, then let the writer deliver and close; meanwhile keep reading and
                            // discarding, so the reply is not lost to a reset caused by unread input.
                            offer(errorReply("JSON token size limit exceeded (a request is limited to "
                                    + JsonFramer.MAX_VALUE_BYTES + " bytes); closing the connection"));
                            finish();
                            discarding = true;
                        }
                    }
                }
            }
        } catch (IOException e) {
            // the client went away or was dropped
        }
        close();
    }

    private void handle(byte[] buf, int len) {
        String reply;
        try {
            JsonNode request = QmpJson.parse(buf, len);
            reply = dispatcher.dispatch(request, this);
        } catch (QmpError e) {
            reply = errorReply(e.desc());
        }
        offer(reply);
        if (quitRequested) {
            quitRequested = false;
            server.quit();
        }
    }

    private static String errorReply(String desc) {
        return QmpJson.write(Map.of("error", QmpDispatcher.error("GenericError", desc)));
    }

    private void writeLoop() {
        OutputStream out = Channels.newOutputStream(channel);
        try {
            while (true) {
                String msg = outbox.take();
                if (msg == END) {
                    break;
                }
                out.write((msg + EOL).getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException | InterruptedException e) {
            // dropped or closed: nothing more to deliver
        } finally {
            writerDone.countDown();
            close();
        }
    }

    /** Lets the writer deliver what is queued, then closes; returns at once. */
    void finish() {
        if (!closed.get() && !outbox.offer(END)) {
            close();
        }
    }

    /** Waits up to {@code millis} for {@link #finish} to have delivered everything. */
    boolean awaitFinished(long millis) throws InterruptedException {
        return writerDone.await(millis, TimeUnit.MILLISECONDS);
    }

    void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                channel.close();
            } catch (IOException e) {
                // already gone
            }
            outbox.clear();
            outbox.offer(END);
            server.remove(this);
        }
    }

    @Override
    public boolean negotiated() {
        return negotiated;
    }

    @Override
    public void negotiate(boolean oob) {
        this.oob = oob;
        this.negotiated = true;
    }

    @Override
    public boolean oobEnabled() {
        return oob;
    }

    @Override
    public void requestQuit() {
        server.shutdownEvent(); // QEMU sends SHUTDOWN before the reply to quit
        quitRequested = true;
    }
}
