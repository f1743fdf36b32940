package io.livemig.channel;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.time.Duration;

/**
 * TLS over a connected tcp or unix socket: QEMU's QIOChannelTLS with {@code tls-creds-x509}
 * ({@code verify-peer=on}: the destination requires a client certificate signed by the CA; the
 * source checks the destination's certificate against the CA and {@code tls-hostname}). TLS 1.3
 * only.
 *
 * <p>Why an {@link SSLSocket} layered over the {@link SocketChannel}'s socket adaptor, not an
 * {@code SSLEngine}: the migration channel must be full duplex (the migration thread writes while
 * the return-path thread reads), and TLS 1.3 has post-handshake messages in both directions
 * (NewSessionTicket, KeyUpdate after 2^37 bytes of AES-GCM) whose replies a reader must write.
 * {@code SSLSocket} already does that record locking and reply plumbing correctly; with an
 * {@code SSLEngine} we would re-implement it. The cost is a copy through the socket streams
 * for direct buffers (a reused scratch array per direction, no per-call allocation).
 *
 * <p>close() closes the underlying {@link SocketChannel} first: a thread blocked in a read or
 * write in the adaptor's streams then fails at once, and {@link #in()}/{@link #out()} report it
 * as {@link AsynchronousCloseException}. The handshake runs with the socket's SO_TIMEOUT set
 * (a read timeout; writes of a handshake are small), then the timeout is cleared: later stalls
 * are the stall watchdog's business. An end of stream without TLS close_notify reads as -1:
 * the migration stream is framed, so a truncation is detected one layer up (as QEMU accepts a
 * premature EOF from gnutls on a channel it is closing).
 */
public final class TlsMigrationChannel implements MigrationChannel {

    private static final int SCRATCH = 64 << 10;

    private final SocketChannel socket;
    private final SSLSocket ssl;
    private final String description;
    private final In in;
    private final Out out;
    /** a source that presented no certificate: a livemig destination always refuses it */
    private final boolean anonymous;
    private volatile boolean closed;
    /** a thread is in {@link In#read}: close() must not touch the input then */
    private volatile boolean reading;

    private TlsMigrationChannel(SocketChannel socket, SSLSocket ssl, String description) throws IOException {
        this.socket = socket;
        this.ssl = ssl;
        this.description = description;
        this.anonymous = ssl.getUseClientMode() && ssl.getSession().getLocalCertificates() == null;
        this.in = new In(ssl.getInputStream());
        this.out = new Out(ssl.getOutputStream());
    }

    /**
     * Source side: wraps {@code plain}, handshakes within {@code timeout} and verifies the
     * destination's certificate against the CA in {@code credsDir} and {@code hostname}. On any
     * failure {@code plain} is closed and the IOException reads
     * "TLS handshake failed: REASON".
     */
    public static MigrationChannel client(MigrationChannel plain, Path credsDir, String hostname, Duration timeout)
            throws IOException {
        return wrap(plain, credsDir, hostname, timeout, true);
    }

    /** Destination side: wraps {@code plain}, handshakes and requires a client certificate from the CA. */
    public static MigrationChannel server(MigrationChannel plain, Path credsDir, Duration timeout) throws IOException {
        return server(plain, credsDir, null, timeout);
    }

    /**
     * Destination side with QEMU's {@code tls-authz}: as {@link #server(MigrationChannel, Path, Duration)},
     * and the client certificate's subject DN must be allowed by {@code authz} (null: any
     * certificate from the CA); a refusal reads "TLS handshake failed: TLS x509 authz check for
     * DN is denied".
     */
    public static MigrationChannel server(MigrationChannel plain, Path credsDir, AuthzSimple authz, Duration timeout)
            throws IOException {
        return wrap(plain, credsDir, null, authz, timeout, false);
    }

    private static MigrationChannel wrap(MigrationChannel plain, Path credsDir, String hostname, Duration timeout,
                                         boolean client) throws IOException {
        return wrap(plain, credsDir, hostname, null, timeout, client);
    }

    private static MigrationChannel wrap(MigrationChannel plain, Path credsDir, String hostname, AuthzSimple authz,
                                         Duration timeout, boolean client) throws IOException {
        SSLSocket ssl = null;
        try {
            if (!(plain instanceof SocketMigrationChannel sock)) {
                throw new IOException("TLS needs a tcp: or unix: transport, not " + plain.describe());
            }
            SSLContext ctx = client ? TlsCredentials.client(credsDir) : TlsCredentials.server(credsDir, authz);
            SocketChannel channel = sock.socket();
            Socket raw = channel.socket();
            SocketAddress remote = channel.getRemoteAddress();
            int port = remote instanceof InetSocketAddress inet ? inet.getPort() : 0;
            raw.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
            ssl = (SSLSocket) ctx.getSocketFactory().createSocket(raw, client ? hostname : null, port, true);
            ssl.setUseClientMode(client);
            SSLParameters p = ssl.getSSLParameters();
            p.setProtocols(new String[] {"TLSv1.3"});
            if (client) {
                p.setEndpointIdentificationAlgorithm("HTTPS"); // RFC 2818/6125: SAN dNSName or iPAddress
            } else {
                p.setNeedClientAuth(true); // QEMU's verify-peer=on
            }
            ssl.setSSLParameters(p);
            try {
                ssl.startHandshake();
            } catch (IOException e) {
                throw new IOException("TLS handshake failed: " + reason(e, hostname, timeout), e);
            }
            raw.setSoTimeout(0);
            return new TlsMigrationChannel(channel, ssl, "tls+" + plain.describe());
        } catch (IOException | RuntimeException e) {
            closeQuietly(plain);
            if (ssl != null) {
                try {
                    ssl.close();
                } catch (IOException ignored) {
                    // the socket is closed already
                }
            }
            throw e;
        }
    }

    /** Turns the JSSE exception chain into a reason a user can act on. */
    static String reason(Throwable e, String hostname, Duration timeout) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage() == null ? "" : t.getMessage();
            if (m.startsWith(TlsCredentials.AUTHZ_DENIED_PREFIX)) {
                return m; // QEMU's own words, with the DN
            }
            if (t instanceof SocketTimeoutException) {
                return "timed out after " + timeout.toMillis() + " ms (is the peer speaking TLS?)";
            }
            if (t instanceof CertificateException && (m.startsWith("No subject alternative") || m.startsWith("No name matching"))) {
                return "certificate does not match hostname '" + hostname + "' (" + m + ")";
            }
            if (t instanceof CertPathValidatorException || m.startsWith("PKIX path")) {
                return "certificate is not signed by the CA in tls-creds (" + m + ")";
            }
            if (m.contains("Empty client certificate chain") || m.contains("Empty server certificate chain")) {
                return "the peer sent no certificate, and verify-peer requires one (" + m + ")";
            }
            if (m.contains("Unsupported or unrecognized SSL message")) {
                return "the peer does not speak TLS (" + m + ")";
            }
            if (m.contains("Remote host terminated the handshake") || t instanceof EOFException) {
                return "the peer closed the connection (it does not speak TLS, or rejected us) (" + m + ")";
            }
            if (m.contains("Received fatal alert: certificate_unknown") || m.contains("Received fatal alert: bad_certificate")) {
                return (hostname != null ? "the destination refused this source's certificate (its CA, or its tls-authz)"
                        : "the source refused this destination's certificate (its CA, or its tls-hostname)") + " (" + m + ")";
            }
            if (m.contains("Broken pipe") || m.contains("Connection reset")) {
                // TLS 1.3: the server checks our certificate while we still write our last flight
                return "the peer closed the connection during the handshake; it may have refused our certificate"
                        + (hostname != null ? " (its CA, or its tls-authz)" : "") + " or not speak TLS (" + m + ")";
            }
        }
        return e.getMessage() == null ? e.toString() : e.getMessage();
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
        return true;
    }

    /** TLS 1.3 half-close: sends close_notify and keeps reading. */
    @Override
    public void shutdownOutput() throws IOException {
        ssl.shutdownOutput();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        try {
            if (!reading) {
                discardUnread();
            }
            socket.close(); // unblocks readers and writers at once; no close_notify on this path
        } finally {
            try {
                ssl.close();
            } catch (IOException ignored) {
                // the socket under it is closed
            }
        }
    }

    /**
     * Reads and drops what the kernel holds for a socket no one reads: a TLS 1.3 server sends
     * NewSessionTicket after the handshake, and a source without a return path never reads it.
     * Closing a socket with unread data sends RST instead of FIN, and an RST can destroy the tail
     * of the stream still queued at the destination. Only bytes already there are read (the
     * adaptor's {@code available()} takes no read lock), so this never blocks; the bytes are TLS
     * records, dropped unparsed, since the session ends here.
     */
    private void discardUnread() {
        try {
            int n = socket.socket().getInputStream().available();
            if (n > 0 && socket.isOpen()) {
                socket.read(ByteBuffer.allocate(n));
            }
        } catch (IOException e) {
            // closing anyway
        }
    }

    @Override
    public String toString() {
        return "TlsMigrationChannel[" + description + "]";
    }

    /**
     * A failure after close is the close's doing. In TLS 1.3 the server checks the client's
     * certificate after the client's handshake has finished, so an anonymous source learns of its
     * refusal only as a failed write (or a fatal alert on the return path): say why.
     */
    private IOException closedOr(IOException e) {
        if (closed) {
            AsynchronousCloseException c = new AsynchronousCloseException();
            c.initCause(e);
            return c;
        }
        if (anonymous) {
            return new IOException(e.getMessage() + " (TLS: this source is anonymous, with no " + TlsCredentials.CLIENT_CERT
                    + " in tls-creds, and the destination requires a client certificate)", e);
        }
        return e;
    }

    /**
     * A source's write that fails because the destination dropped the connection: in TLS 1.3 a
     * destination that refuses the source's certificate (tls-authz, or its CA) does so after the
     * source's handshake has ended, and the source sees only a broken pipe, a reset, or (when its
     * return-path reader has already received the destination's alert and closed the session)
     * "Connection or outbound has closed". Say what it may mean.
     */
    private IOException peerGone(IOException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        boolean gone = m.contains("Broken pipe") || m.contains("Connection reset") || m.contains("outbound has closed");
        if (closed || anonymous || !ssl.getUseClientMode() || !gone) {
            return e;
        }
        return new IOException(m + " (TLS: the destination closed the connection; if it refused this source's"
                + " certificate, e.g. by its tls-authz, the destination's error says so)", e);
    }

    private static void closeQuietly(MigrationChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // reporting the handshake failure matters more
        }
    }

    /** One reader at a time (the channel contract); the scratch array serves direct buffers. */
    private final class In implements ReadableByteChannel {
        private final InputStream stream;
        private byte[] scratch;

        In(InputStream stream) {
            this.stream = stream;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (closed) {
                throw new ClosedChannelException();
            }
            int len = dst.remaining();
            if (len == 0) {
                return 0;
            }
            reading = true;
            try {
                int n;
                if (dst.hasArray()) {
                    n = stream.read(dst.array(), dst.arrayOffset() + dst.position(), len);
                    if (n > 0) {
                        dst.position(dst.position() + n);
                    }
                } else {
                    if (scratch == null) {
                        scratch = new byte[SCRATCH];
                    }
                    n = stream.read(scratch, 0, Math.min(len, SCRATCH));
                    if (n > 0) {
                        dst.put(scratch, 0, n);
                    }
                }
                return n;
            } catch (EOFException e) {
                if (closed) {
                    throw closedOr(e);
                }
                return -1; // EOF without close_notify: see the class comment
            } catch (IOException e) {
                throw closedOr(e);
            } finally {
                reading = false;
            }
        }

        @Override
        public boolean isOpen() {
            return !closed;
        }

        @Override
        public void close() throws IOException {
            TlsMigrationChannel.this.close();
        }
    }

    /** One writer at a time (the channel contract). */
    private final class Out implements WritableByteChannel {
        private final OutputStream stream;
        private byte[] scratch;

        Out(OutputStream stream) {
            this.stream = stream;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (closed) {
                throw new ClosedChannelException();
            }
            int len = src.remaining();
            try {
                if (src.hasArray()) {
                    stream.write(src.array(), src.arrayOffset() + src.position(), len);
                    src.position(src.position() + len);
                    return len;
                }
                if (scratch == null) {
                    scratch = new byte[SCRATCH];
                }
                int n = Math.min(len, SCRATCH);
                src.get(scratch, 0, n);
                stream.write(scratch, 0, n);
                return n;
            } catch (IOException e) {
                throw peerGone(closedOr(e));
            }
        }

        @Override
        public boolean isOpen() {
            return !closed;
        }

        @Override
        public void close() throws IOException {
            TlsMigrationChannel.this.close();
        }
    }
}
