package io.livemig.cli.qmpclient;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * A QMP client, against livemig or a real QEMU: used by the demo and the system tests.
 *
 * <p>A reader thread (virtual) reads one JSON message per line and sorts it: events go to an
 * unbounded event queue ({@link #awaitEvent}), everything else (replies, errors) to a reply queue.
 * {@link #execute} is synchronized, so one command is in flight per client and replies match in
 * order; each carries an {@code id} that is checked. End of stream is reported as a
 * {@link #DISCONNECTED} marker in the reply queue. Every wait has a timeout.
 */
public final class QmpClient implements AutoCloseable {

    /** Default wait for a reply. */
    public static final Duration REPLY_TIMEOUT = Duration.ofSeconds(10);

    private static final JsonMapper MAPPER = JsonMapper.builder().build();
    private static final JsonNode DISCONNECTED = MAPPER.createObjectNode().put("disconnected", true);

    private final SocketChannel channel;
    private final OutputStream out;
    private final JsonNode greeting;
    private final BlockingQueue<JsonNode> replies = new LinkedBlockingQueue<>();
    /** every event, in order; also the lock and condition for {@link #unclaimed} */
    private final List<JsonNode> seenEvents = new ArrayList<>();
    /** set by the reader thread once the greeting has been queued */
    private boolean greetingSeen;
    /** events no await has returned yet */
    private final java.util.LinkedList<JsonNode> unclaimed = new java.util.LinkedList<>();
    private final AtomicLong ids = new AtomicLong();

    private QmpClient(SocketChannel channel, Duration timeout) throws IOException, TimeoutException {
        this.channel = channel;
        this.out = Channels.newOutputStream(channel);
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        Thread.ofVirtual().name("qmp-client-reader").start(() -> readLoop(in));
        this.greeting = poll(timeout, "greeting");
        if (!greeting.has("QMP")) {
            throw new IOException("not a QMP greeting: " + greeting);
        }
    }

    /** Connects to a unix socket and reads the greeting (does not negotiate). */
    public static QmpClient connectUnix(Path path, Duration timeout) throws IOException, TimeoutException {
        return connect(UnixDomainSocketAddress.of(path), timeout);
    }

    /** Connects over TCP and reads the greeting (does not negotiate). */
    public static QmpClient connectTcp(String host, int port, Duration timeout) throws IOException, TimeoutException {
        return connect(new InetSocketAddress(host, port), timeout);
    }

    /** Connects, reads the greeting and sends {@code qmp_capabilities}. */
    public static QmpClient connectAndNegotiate(Path unixPath, Duration timeout) throws IOException, TimeoutException {
        QmpClient c = connectUnix(unixPath, timeout);
        c.execute("qmp_capabilities");
        return c;
    }

    private static QmpClient connect(SocketAddress address, Duration timeout) throws IOException, TimeoutException {
        SocketChannel ch = address instanceof UnixDomainSocketAddress
                ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
        try {
            // a blocking connect to a local listener completes or fails at once; the timeout bounds the greeting
            ch.connect(address);
            return new QmpClient(ch, timeout);
        } catch (IOException | TimeoutException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private void readLoop(BufferedReader in) {
        try {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode msg = MAPPER.readTree(line);
                if (msg.has("event")) {
                    synchronized (seenEvents) {
                        seenEvents.add(msg);
                        unclaimed.add(msg);
                        seenEvents.notifyAll();
                    }
                } else if (msg.has("QMP") && greetingSeen) {
                    // a second greeting (QEMU can replay one queued for an earlier client): not a reply
                    continue;
                } else {
                    greetingSeen |= msg.has("QMP");
                    replies.add(msg);
                }
            }
        } catch (IOException | RuntimeException e) {
            // end of stream below
        }
        replies.add(DISCONNECTED);
    }

    /** The greeting {@code {"QMP": {...}}}. */
    public JsonNode greeting() {
        return greeting;
    }

    public Object execute(String command) {
        return execute(command, Map.of());
    }

    /**
     * Runs {@code command} and returns its {@code return} value converted to plain Java
     * ({@code Map}, {@code List}, {@code String}, {@code Number}, {@code Boolean}).
     *
     * @throws QmpErrorException on an error reply
     * @throws IllegalStateException on timeout or disconnect
     */
    public Object execute(String command, Map<String, Object> args) {
        return MAPPER.convertValue(executeNode(command, args, REPLY_TIMEOUT), Object.class);
    }

    /** {@link #execute} for commands returning an object. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> executeForMap(String command, Map<String, Object> args) {
        return (Map<String, Object>) execute(command, args);
    }

    public synchronized JsonNode executeNode(String command, Map<String, Object> args, Duration timeout) {
        String id = "c" + ids.incrementAndGet();
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("execute", command);
        if (!args.isEmpty()) {
            req.put("arguments", args);
        }
        req.put("id", id);
        sendRaw(MAPPER.writeValueAsString(req));
        JsonNode reply;
        try {
            reply = poll(timeout, command);
        } catch (TimeoutException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        if (reply == DISCONNECTED) {
            throw new IllegalStateException("QMP connection closed while waiting for " + command);
        }
        if (!id.equals(reply.path("id").asString(null))) {
            throw new IllegalStateException("reply to " + command + " has the wrong id: " + reply);
        }
        if (reply.has("error")) {
            throw new QmpErrorException(command, reply.path("error").path("class").asString(),
                    reply.path("error").path("desc").asString());
        }
        return reply.get("return");
    }

    /** Sends {@code text} followed by a newline, unchanged (for malformed-input tests). */
    public void sendRaw(String text) {
        try {
            out.write((text + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends raw bytes unchanged. */
    public void sendBytes(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** The next non-event message (reply or error) as sent by the server. */
    public JsonNode readReply(Duration timeout) throws TimeoutException {
        JsonNode r = poll(timeout, "reply");
        if (r == DISCONNECTED) {
            replies.add(DISCONNECTED);
            throw new IllegalStateException("QMP connection closed");
        }
        return r;
    }

    /** Waits until the server closes the connection, skipping any replies still queued. */
    public void awaitDisconnect(Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonNode r = poll(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())), "disconnect");
            if (r == DISCONNECTED) {
                replies.add(DISCONNECTED);
                return;
            }
        }
    }

    /**
     * Waits for the next event named {@code name} that no earlier await returned. Other events stay
     * available to later awaits, so waiting for {@code MIGRATION} does not lose a {@code STOP}.
     *
     * @return the whole event message ({@code event}, {@code data}, {@code timestamp})
     */
    public JsonNode awaitEvent(String name, Duration timeout) throws TimeoutException {
        return awaitEvent(e -> name.equals(e.path("event").asString()), name, timeout);
    }

    public JsonNode awaitEvent(Predicate<JsonNode> match, String what, Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (seenEvents) {
            while (true) {
                for (java.util.Iterator<JsonNode> it = unclaimed.iterator(); it.hasNext(); ) {
                    JsonNode e = it.next();
                    if (match.test(e)) {
                        it.remove();
                        return e;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException("no event " + what + " within " + timeout + "; seen: " + seenEvents);
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(seenEvents, left);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(ie);
                }
            }
        }
    }

    /** Every event received so far, in order (including ones consumed by {@link #awaitEvent}). */
    public List<JsonNode> seenEvents() {
        synchronized (seenEvents) {
            return List.copyOf(seenEvents);
        }
    }

    private JsonNode poll(Duration timeout, String what) throws TimeoutException {
        try {
            JsonNode r = replies.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (r == null) {
                throw new TimeoutException("no QMP " + what + " within " + timeout);
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
