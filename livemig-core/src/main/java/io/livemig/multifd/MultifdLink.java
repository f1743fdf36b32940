package io.livemig.multifd;

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

    /** Opens {@code multifd-channels} connections after the main one and starts their senders. */
    public MultifdSendGroup openSend(MigrationUri uri, UUID uuid, Duration timeout) throws IOException {
        MultifdCompression method = MultifdCompression.fromQapi(params.multifdCompression());
        int level = method == MultifdCompression.ZLIB ? params.multifdZlibLevel() : params.multifdZstdLevel();
        MultifdSendGroup g = MultifdSendGroup.open(uri, params.multifdChannels(), method, level, uuid, timeout);
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
     * QEMU 9.x does; {@code first} is the connection already accepted. Returns the main channel (with the peeked bytes put back); the multifd
     * channels, ordered by id, are kept for {@link #takeIncoming}.
     */
    public MigrationChannel acceptAll(IncomingListener listener, MigrationChannel first) throws IOException {
        int n = params.multifdChannels();
        MigrationChannel main = null;
        MigrationChannel[] byId = new MigrationChannel[n];
        int have = 0;
        MigrationChannel next = first;
        while (main == null || have < n) {
            MigrationChannel ch = next != null ? next : listener.accept();
            next = null;
            synchronized (accepted) {
                accepted.add(ch);
            }
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
            if (id >= n) {
                throw new StreamException(String.format("multifd: received id '%d' is greater than number of channels '%d'",
                        id, n));
            }
            if (byId[id] != null) {
                throw new StreamException(String.format("multifd: received id '%d' already setup'", id));
            }
            byId[id] = ch;
            have++;
        }
        incoming = List.copyOf(Arrays.asList(byId));
        return main;
    }

    /** Starts the receivers on the accepted channels, or returns null when there are none. */
    public MultifdRecvGroup startReceiving(GuestMemory memory) {
        List<MigrationChannel> chs = incoming;
        if (chs.isEmpty()) {
            return null;
        }
        return new MultifdRecvGroup(chs, memory, MultifdCompression.fromQapi(params.multifdCompression())).start();
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
