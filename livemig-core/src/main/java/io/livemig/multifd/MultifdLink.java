package io.livemig.multifd;

import io.livemig.channel.ChannelWrapper;
import io.livemig.channel.IncomingListener;
import io.livemig.channel.MigrationChannel;
import io.livemig.channel.MigrationUri;
import io.livemig.guest.GuestMemory;
import io.livemig.savevm.MigrationParameters;
import io.livemig.stream.StreamException;
import io.livemig.stream.StreamHeaderDescriptor;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * Where the migration core and the RAM device meet for multifd: the core opens (source) or
 * accepts (destination) the extra connections, the RAM device uses them. One per guest; it holds
 * the channels of the current migration only.
 *
 * <p>Threads: the migration thread (source) or incoming thread (destination) sets and uses the
 * channels; {@link #abortSend()} and {@link #closeIncoming()} may come from any thread (cancel),
 * hence the volatile fields.
 */
public final class MultifdLink {

    private final MigrationParameters params;
    private volatile MultifdSendGroup send;
    private volatile List<MigrationChannel> incoming = List.of();
    private final List<MigrationChannel> accepted = new ArrayList<>();

    public MultifdLink(MigrationParameters params) {
        this.params = params;
    }

    /** The clear error for a transport multifd cannot use, or null when it can. */
    public static String unsupportedTransport(MigrationUri uri) {
        return switch (uri) {
            case MigrationUri.Tcp t -> null;
            case MigrationUri.Unix u -> null;
            case MigrationUri.File f -> "multifd needs a tcp: or unix: transport; for file: QEMU requires "
                    + "the mapped-ram capability, which livemig does not implement";
            default -> "multifd needs a tcp: or unix: transport, not " + uri;
        };
    }

    // ---- source ----

    /**
     * Opens {@code multifd-channels} connections after the main one, each with {@code wrapper}
     * layered over it (TLS: the main channel's credentials and hostname), and starts their senders.
     */
    public MultifdSendGroup openSend(MigrationUri uri, UUID uuid, Duration timeout, ChannelWrapper wrapper)
            throws IOException {
        MultifdCompression method = MultifdCompression.fromQapi(params.multifdCompression());
        int level = method == MultifdCompression.ZLIB ? params.multifdZlibLevel() : params.multifdZstdLevel();
        MultifdSendGroup g = MultifdSendGroup.open(uri, params.multifdChannels(), method, level, uuid, timeout,
                wrapper, params::stallTimeoutMs, params.multifdPacketPages());
        send = g;
        return g;
    }

    /** The current migration's channels, or null without multifd. */
    public MultifdSendGroup send() {
        return send;
    }

    /** Bytes on the multifd channels of the current (or last) outgoing migration. */
    public long sendBytes() {
        MultifdSendGroup g = send;
        return g == null ? 0 : g.bytes();
    }

    public void abortSend() {
        MultifdSendGroup g = send;
        if (g != null) {
            g.abort();
        }
    }

    /** Ends the channels (after the last sync on success) and forgets them. */
    public void closeSend() {
        MultifdSendGroup g = send;
        if (g != null) {
            g.close();
        }
    }

    /** Forgets the group of the last migration (its byte count was read). */
    public void resetSend() {
        send = null;
    }

    // ---- destination ----

    /**
     * Accepts the main connection and {@code multifd-channels} multifd connections in any order,
     * classifying each by its first 4 bytes ({@code QEVM} = main, else a multifd init packet), as
     * QEMU 9.x does; {@code first} is the connection already accepted. Returns the main channel
     * (with the peeked bytes put back); the multifd channels, ordered by id, are kept for
     * {@link #startReceiving}.
     *
     * <p>Two steps. First every connection is accepted and {@code wrapper} layered over it as it
     * arrives (with TLS, its handshake: the init packet and the stream header travel inside TLS,
     * so the peek must come after it, as in QEMU). Then each is classified. Not one by one: a
     * source writes the main stream's header only after all its multifd channels are open, and
     * with TLS opening one needs our half of its handshake, so peeking at the main channel before
     * the others were accepted would wait forever.
     */
    public MigrationChannel acceptAll(IncomingListener listener, MigrationChannel first, ChannelWrapper wrapper)
            throws IOException {
        return acceptAll(listener, first, wrapper, null);
    }

    /**
     * As above, and each init packet's UUID must be {@code uuid}, this guest's ({@code -uuid},
     * all zeros without it), as QEMU's {@code multifd_recv_initial_packet} requires (a multifd
     * connection from another source's migration is refused); null skips the check.
     */
    public MigrationChannel acceptAll(IncomingListener listener, MigrationChannel first, ChannelWrapper wrapper,
                                      UUID uuid) throws IOException {
        int n = params.multifdChannels();
        List<MigrationChannel> conns = new ArrayList<>(n + 1);
        MigrationChannel next = first;
        for (int i = 0; i <= n; i++) {
            MigrationChannel plain = next != null ? next : listener.accept();
            next = null;
            int slot;
            synchronized (accepted) {
                accepted.add(plain); // so a cancel during the handshake closes it
                slot = accepted.size() - 1;
            }
            MigrationChannel ch = wrapper.wrap(plain);
            synchronized (accepted) {
                if (slot >= accepted.size() || accepted.get(slot) != plain) {
                    ch.close(); // closeIncoming ran during the handshake
                    throw new java.nio.channels.AsynchronousCloseException();
                }
                accepted.set(slot, ch);
            }
            conns.add(ch);
        }
        MigrationChannel main = null;
        MigrationChannel[] byId = new MigrationChannel[n];
        for (MigrationChannel ch : conns) {
            ByteBuffer head = ByteBuffer.allocate(MultifdPacketDescriptor.INIT_LENGTH);
            head.limit(4);
            readFully(ch.in(), head);
            int magic = head.getInt(0);
            if (magic == StreamHeaderDescriptor.MAGIC) {
                if (main != null) {
                    throw new StreamException("multifd: a second main channel (QEVM) arrived");
                }
                head.flip();
                main = new PrefixedChannel(ch, head);
                continue;
            }
            if (magic != MultifdPacketDescriptor.MAGIC) {
                throw new StreamException(String.format("multifd: received packet magic %x and expected magic %x",
                        magic, MultifdPacketDescriptor.MAGIC));
            }
            head.limit(MultifdPacketDescriptor.INIT_LENGTH);
            readFully(ch.in(), head);
            int version = head.getInt(MultifdPacketDescriptor.VERSION_OFFSET);
            if (version != MultifdPacketDescriptor.VERSION) {
                throw new StreamException(String.format("multifd: received packet version %d and expected version %d",
                        version, MultifdPacketDescriptor.VERSION));
            }
            int id = Byte.toUnsignedInt(head.get(MultifdPacketDescriptor.INIT_ID_OFFSET));
            UUID received = new UUID(head.getLong(MultifdPacketDescriptor.INIT_UUID_OFFSET),
                    head.getLong(MultifdPacketDescriptor.INIT_UUID_OFFSET + 8));
            if (uuid != null && !uuid.equals(received)) {
                throw new StreamException(String.format("multifd: received uuid '%s' and expected uuid '%s' for channel %d",
                        received, uuid, id));
            }
            if (id >= n) {
                throw new StreamException(String.format("multifd: received id '%d' is greater than number of channels '%d'",
                        id, n));
            }
            if (byId[id] != null) {
                throw new StreamException(String.format("multifd: received id '%d' already setup'", id));
            }
            byId[id] = ch;
        }
        if (main == null) {
            throw new StreamException("multifd: " + (n + 1) + " connections arrived and none is the main channel (QEVM)");
        }
        incoming = List.copyOf(Arrays.asList(byId));
        return main;
    }

    /** The accepted multifd channels, by id (empty before {@link #acceptAll}). */
    List<MigrationChannel> incomingChannels() {
        return incoming;
    }

    /** Starts the receivers on the accepted channels, or returns null when there are none. */
    public MultifdRecvGroup startReceiving(GuestMemory memory) {
        List<MigrationChannel> chs = incoming;
        if (chs.isEmpty()) {
            return null;
        }
        return new MultifdRecvGroup(chs, memory, MultifdCompression.fromQapi(params.multifdCompression()),
                params::stallTimeoutMs).start();
    }

    /** Closes every connection accepted for the incoming migration. */
    public void closeIncoming() {
        List<MigrationChannel> all;
        synchronized (accepted) {
            all = new ArrayList<>(accepted);
            accepted.clear();
        }
        for (MigrationChannel ch : all) {
            try {
                ch.close();
            } catch (IOException e) {
                // closing to unblock
            }
        }
        incoming = List.of();
    }

    private static void readFully(ReadableByteChannel in, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (in.read(b) < 0) {
                throw new EOFException("multifd: connection closed before its first " + b.limit() + " bytes");
            }
        }
    }
}
