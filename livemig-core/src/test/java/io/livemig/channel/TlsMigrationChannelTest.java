package io.livemig.channel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** TlsMigrationChannel over real loopback sockets, and the credential loading. */
@Timeout(60)
class TlsMigrationChannelTest {

    private static final Duration HANDSHAKE = Duration.ofSeconds(10);

    @TempDir
    static Path root;
    static final TlsTestCerts certs = TlsTestCerts.shared();

    /** A connected pair: [0] the source (client), [1] the destination (server). */
    private static MigrationChannel[] pair(Path srcCreds, String hostname) throws Exception {
        try (IncomingListener l = Transports.listen(new MigrationUri.Tcp("127.0.0.1", 0))) {
            CompletableFuture<MigrationChannel> server = CompletableFuture.supplyAsync(() -> {
                try {
                    return TlsMigrationChannel.server(l.accept(), certs.dst, HANDSHAKE);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            MigrationChannel client = TlsMigrationChannel.client(Transports.connect(l.address(), HANDSHAKE),
                    srcCreds, hostname, HANDSHAKE);
            return new MigrationChannel[] {client, server.get(20, TimeUnit.SECONDS)};
        }
    }

    @Test
    void bothDirectionsCarryDataAndHalfCloseReadsAsEndOfStream() throws Exception {
        MigrationChannel[] p = pair(certs.src, "localhost");
        try (MigrationChannel src = p[0]; MigrationChannel dst = p[1]) {
            assertThat(src.describe()).startsWith("tls+tcp:");
            ByteBuffer big = ByteBuffer.allocateDirect(1 << 20);
            for (int i = 0; big.hasRemaining(); i++) {
                big.put((byte) i);
            }
            big.flip();
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    while (big.hasRemaining()) {
                        src.out().write(big);
                    }
                    src.shutdownOutput();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            ByteBuffer got = ByteBuffer.allocateDirect((1 << 20) + 1);
            while (dst.in().read(got) >= 0) {
                assertThat(got.position()).isLessThanOrEqualTo(1 << 20);
            }
            writer.get(20, TimeUnit.SECONDS);
            got.flip();
            big.rewind();
            assertThat(got).isEqualTo(big);
            // the return path: destination to source, heap buffers
            dst.out().write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            ByteBuffer rp = ByteBuffer.allocate(3);
            while (rp.hasRemaining()) {
                assertThat(src.in().read(rp)).isNotNegative();
            }
            assertThat(rp.array()).containsExactly(1, 2, 3);
        }
    }

    @Test
    void closeUnblocksABlockedRead() throws Exception {
        MigrationChannel[] p = pair(certs.src, "127.0.0.1");
        try (MigrationChannel src = p[0]) {
            MigrationChannel dst = p[1];
            CompletableFuture<Throwable> reader = CompletableFuture.supplyAsync(() -> {
                try {
                    dst.in().read(ByteBuffer.allocate(16));
                    return null;
                } catch (IOException e) {
                    return e;
                }
            });
            // the reader may not be blocked yet when close runs: it fails either way, never hangs
            dst.close();
            assertThat(reader.get(10, TimeUnit.SECONDS)).isInstanceOf(java.nio.channels.ClosedChannelException.class);
            assertThat(src.in().isOpen()).as("the other end is untouched").isTrue();
        }
    }

    /**
     * The destination sends no NewSessionTicket, so a source that never reads (no return path,
     * every multifd channel) holds no unread record when it closes and never answers with RST.
     * Probe: the bytes the client's socket receives up to and including one application byte the
     * server writes after its handshake; the control (the JDK's default session timeout, which
     * sends a ticket of some hundred bytes) shows the probe sees a ticket.
     */
    @Test
    void theDestinationSendsNoSessionTicket() throws Exception {
        long withTicket = bytesToFirstApplicationByte(false);
        long livemig = bytesToFirstApplicationByte(true);
        assertThat(withTicket - livemig).as("ticket bytes: control %d, livemig %d", withTicket, livemig).isGreaterThan(100);
    }

    private static long bytesToFirstApplicationByte(boolean livemigServer) throws Exception {
        javax.net.ssl.SSLContext serverCtx = TlsCredentials.server(certs.dst, null);
        if (!livemigServer) {
            serverCtx.getServerSessionContext().setSessionTimeout(86_400);
        }
        javax.net.ssl.SSLContext clientCtx = TlsCredentials.client(certs.src);
        try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> {
                try (java.net.Socket raw = ss.accept();
                     javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) serverCtx.getSocketFactory()
                             .createSocket(raw, null, raw.getPort(), true)) {
                    s.setUseClientMode(false);
                    s.setNeedClientAuth(true);
                    s.startHandshake();
                    s.getOutputStream().write('X');
                    s.getOutputStream().flush();
                    s.getInputStream().read(); // until the client closes
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
            java.net.Socket raw = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), ss.getLocalPort()) {
                @Override
                public java.io.InputStream getInputStream() throws IOException {
                    java.io.InputStream in = super.getInputStream();
                    return new java.io.FilterInputStream(in) {
                        @Override
                        public int read() throws IOException {
                            int b = super.read();
                            received.addAndGet(b < 0 ? 0 : 1);
                            return b;
                        }

                        @Override
                        public int read(byte[] buf, int off, int len) throws IOException {
                            int n = super.read(buf, off, len);
                            received.addAndGet(Math.max(0, n));
                            return n;
                        }
                    };
                }
            };
            try (javax.net.ssl.SSLSocket c = (javax.net.ssl.SSLSocket) clientCtx.getSocketFactory()
                    .createSocket(raw, "localhost", ss.getLocalPort(), true)) {
                c.setSoTimeout(10_000);
                c.startHandshake();
                assertThat(c.getInputStream().read()).isEqualTo('X');
                long n = received.get();
                c.shutdownOutput();
                server.get(10, TimeUnit.SECONDS);
                return n;
            }
        }
    }

    @Test
    void wrongHostnameFailsTheHandshakeNamingTheHostname() {
        assertThatThrownBy(() -> pair(certs.src, "wrong.example"))
                .hasMessageContaining("TLS handshake failed: certificate does not match hostname 'wrong.example'");
    }

    @Test
    void missingServerKeyIsNamed() throws Exception {
        Path dir = root.resolve("no-server-key");
        Files.createDirectories(dir);
        Files.copy(certs.dst.resolve(TlsCredentials.CA_CERT), dir.resolve(TlsCredentials.CA_CERT));
        Files.copy(certs.dst.resolve(TlsCredentials.SERVER_CERT), dir.resolve(TlsCredentials.SERVER_CERT));
        assertThatThrownBy(() -> TlsCredentials.server(dir, null))
                .hasMessageContaining("has no server-key.pem (needed by the destination)");
        assertThat(TlsCredentials.checkDirectory(dir)).isNull();
        assertThat(TlsCredentials.checkDirectory(root.resolve("nope"))).contains("does not exist");
        assertThat(TlsCredentials.checkDirectory(certs.work)).contains("has no ca-cert.pem");
    }

    @Test
    void aTraditionalKeyFormatIsRefusedWithAConversionHint() throws Exception {
        TlsTestCerts.openssl(certs.work, "pkey", "-in", "ca1-server-key.pem", "-traditional", "-out", "trad-key.pem");
        assertThat(Files.readString(certs.work.resolve("trad-key.pem"))).contains("BEGIN EC PRIVATE KEY");
        assertThatThrownBy(() -> TlsCredentials.privateKey(certs.work.resolve("trad-key.pem")))
                .hasMessageContaining("expected an unencrypted PKCS#8 PEM key ('BEGIN PRIVATE KEY'), found 'BEGIN EC PRIVATE KEY'")
                .hasMessageContaining("openssl pkcs8 -topk8 -nocrypt");
        assertThat(TlsCredentials.privateKey(certs.dst.resolve(TlsCredentials.SERVER_KEY)).getAlgorithm()).isEqualTo("EC");
    }

    @Test
    void fileTransportIsRefused() throws Exception {
        MigrationChannel file = Transports.connect(new MigrationUri.File(root.resolve("f.bin")), HANDSHAKE);
        assertThatThrownBy(() -> TlsMigrationChannel.client(file, certs.src, "localhost", HANDSHAKE))
                .hasMessageContaining("TLS needs a tcp: or unix: transport");
    }
}
