package io.livemig.multifd;

import io.livemig.channel.AuthzSimple;
import io.livemig.channel.ChannelWrapper;
import io.livemig.channel.IncomingListener;
import io.livemig.channel.MigrationChannel;
import io.livemig.channel.MigrationUri;
import io.livemig.channel.TlsMigrationChannel;
import io.livemig.channel.TlsTestCerts;
import io.livemig.channel.Transports;
import io.livemig.savevm.MigrationParameters;
import io.livemig.stream.StreamHeaderDescriptor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The multifd connections themselves over TLS, below the migration engine: each one, main and
 * multifd, is its own TLS session with its own handshake and client-certificate (and tls-authz)
 * check on the destination; the classification by first bytes happens inside TLS; the source ends
 * each multifd session with close_notify.
 */
@Timeout(60)
class MultifdTlsLinkTest {

    private static final Duration T = Duration.ofSeconds(10);
    private static final int CHANNELS = 2;

    static final TlsTestCerts certs = TlsTestCerts.shared();

    private static ChannelWrapper client(Path creds) {
        return plain -> TlsMigrationChannel.client(plain, creds, "localhost", T);
    }

    private static ChannelWrapper server(AuthzSimple authz) {
        return plain -> TlsMigrationChannel.server(plain, certs.dst, authz, T);
    }

    private record Dest(MultifdLink link, CompletableFuture<MigrationChannel> main) {
    }

    private static Dest accept(IncomingListener l, AuthzSimple authz) {
        MigrationParameters params = new MigrationParameters();
        params.multifdChannels(CHANNELS);
        MultifdLink link = new MultifdLink(params);
        CompletableFuture<MigrationChannel> main = CompletableFuture.supplyAsync(() -> {
            try {
                return link.acceptAll(l, l.accept(), server(authz));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        return new Dest(link, main);
    }

    private static void writeHeader(MigrationChannel main) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(8).putInt(StreamHeaderDescriptor.MAGIC).putInt(3).flip();
        while (h.hasRemaining()) {
            main.out().write(h);
        }
    }

    @Test
    void everyChannelHasItsOwnTlsSessionAndEndsWithCloseNotify() throws Exception {
        try (IncomingListener l = Transports.listen(new MigrationUri.Tcp("127.0.0.1", 0))) {
            MigrationUri uri = new MigrationUri.Tcp("localhost", ((MigrationUri.Tcp) l.address()).port());
            Dest dest = accept(l, new AuthzSimple("auth0", TlsTestCerts.SRC_DN));
            MigrationChannel main = client(certs.src).wrap(Transports.connect(uri, T));
            MultifdSendGroup group = MultifdSendGroup.open(uri, CHANNELS, MultifdCompression.NONE, 1, new UUID(1, 2), T,
                    client(certs.src));
            try (MigrationChannel m = main) {
                writeHeader(m);
                MigrationChannel dmain = dest.main().get(20, TimeUnit.SECONDS);
                assertThat(dmain.describe()).startsWith("tls+tcp:");
                ByteBuffer got = ByteBuffer.allocate(8);
                while (got.hasRemaining()) {
                    assertThat(dmain.in().read(got)).isNotNegative();
                }
                assertThat(got.getInt(0)).as("the peeked magic is given back").isEqualTo(StreamHeaderDescriptor.MAGIC);
                List<MigrationChannel> mfd = dest.link().incomingChannels();
                assertThat(mfd).hasSize(CHANNELS);
                assertThat(mfd).allSatisfy(c -> assertThat(c.describe()).startsWith("tls+tcp:"));
                assertThat(group.channels()).allSatisfy(c -> assertThat(c.describe()).startsWith("tls+tcp:"));
                // normal end: each sender sends close_notify, so each multifd channel reads a clean EOF
                group.close();
                for (MigrationChannel c : mfd) {
                    CompletableFuture<Integer> eof = CompletableFuture.supplyAsync(() -> {
                        try {
                            return c.in().read(ByteBuffer.allocate(16));
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    });
                    assertThat(eof.get(10, TimeUnit.SECONDS)).as("end of stream on %s", c.describe()).isEqualTo(-1);
                }
            } finally {
                dest.link().closeIncoming();
            }
        }
    }

    @Test
    void aMultifdChannelWhoseCertificateFailsTlsAuthzIsRefusedEvenWhenTheMainOnePassed() throws Exception {
        try (IncomingListener l = Transports.listen(new MigrationUri.Tcp("127.0.0.1", 0))) {
            MigrationUri uri = new MigrationUri.Tcp("localhost", ((MigrationUri.Tcp) l.address()).port());
            Dest dest = accept(l, new AuthzSimple("auth0", TlsTestCerts.SRC_DN));
            try (MigrationChannel main = client(certs.src).wrap(Transports.connect(uri, T))) {
                try {
                    MultifdSendGroup.open(uri, CHANNELS, MultifdCompression.NONE, 1, new UUID(1, 2), T,
                            client(certs.srcOtherName)).abort();
                } catch (IOException expected) {
                    // TLS 1.3: the source may or may not see the refusal before it writes
                }
                assertThatThrownBy(() -> dest.main().get(20, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                        .hasMessageContaining("TLS handshake failed: TLS x509 authz check for " + TlsTestCerts.OTHER_DN + " is denied");
                assertThat(main.describe()).startsWith("tls+");
            } finally {
                dest.link().closeIncoming();
            }
        }
    }

    @Test
    void aPlainMultifdChannelIsRefusedByATlsDestination() throws Exception {
        try (IncomingListener l = Transports.listen(new MigrationUri.Tcp("127.0.0.1", 0))) {
            MigrationUri uri = new MigrationUri.Tcp("localhost", ((MigrationUri.Tcp) l.address()).port());
            Dest dest = accept(l, null);
            try (MigrationChannel main = client(certs.src).wrap(Transports.connect(uri, T))) {
                try {
                    MultifdSendGroup.open(uri, CHANNELS, MultifdCompression.NONE, 1, new UUID(1, 2), T,
                            ChannelWrapper.NONE).abort();
                } catch (IOException expected) {
                    // the destination may have closed the listener already
                }
                assertThatThrownBy(() -> dest.main().get(20, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                        .hasMessageContaining("TLS handshake failed: the peer does not speak TLS");
                assertThat(main.describe()).startsWith("tls+");
            } finally {
                dest.link().closeIncoming();
            }
        }
    }
}
