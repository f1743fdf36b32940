package io.livemig.channel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** 64 MiB of seeded bytes over every transport, byte for byte; the return path where there is one. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TransportRoundTripTest {

    private static final long SIZE = 64L << 20;
    private static final long RETURN_SIZE = 8L << 20;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void tcpLoopbackOnAFreePort() throws Exception {
        socketRoundTrip(MigrationUri.parse("tcp:127.0.0.1:0"));
    }

    @Test
    void unixSocket() throws Exception {
        socketRoundTrip(new MigrationUri.Unix(dir.resolve("mig.sock")));
    }

    /** Main stream source→destination and return path destination→source at the same time. */
    private void socketRoundTrip(MigrationUri listenOn) throws Exception {
        long seed = Payload.seed();
        long returnSeed = ~seed;
        try (IncomingListener listener = Transports.listen(listenOn)) {
            if (listener.address() instanceof MigrationUri.Tcp tcp) {
                assertThat(tcp.port()).isPositive();
            }
            Forked<Void> destination = Forked.fork("destination", () -> {
                try (MigrationChannel channel = listener.accept()) {
                    assertThat(channel.supportsReturnPath()).isTrue();
                    assertThat(channel.describe()).isEqualTo(listener.address().toString());
                    Forked<Void> returnPath = Forked.fork("return-path-writer", () -> {
                        Payload.write(channel.out(), returnSeed, RETURN_SIZE);
                        channel.shutdownOutput();
                        return null;
                    });
                    Payload.verify(channel.in(), seed, SIZE);
                    returnPath.future().get(60, TimeUnit.SECONDS);
                }
                return null;
            });
            try (MigrationChannel source = Transports.connect(listener.address(), CONNECT_TIMEOUT)) {
                assertThat(source.supportsReturnPath()).isTrue();
                assertThat(source.describe()).isEqualTo(listener.address().toString());
                assertThat(source.in()).isSameAs(source.in());
                Forked<Void> returnPath = Forked.fork("return-path-reader", () -> {
                    Payload.verify(source.in(), returnSeed, RETURN_SIZE);
                    return null;
                });
                Payload.write(source.out(), seed, SIZE);
                source.shutdownOutput();
                returnPath.future().get(60, TimeUnit.SECONDS);
            }
            destination.future().get(60, TimeUnit.SECONDS);
        }
    }

    @Test
    void fileWrittenBySourceIsReadByDestination() throws Exception {
        long seed = Payload.seed();
        MigrationUri.File uri = new MigrationUri.File(dir.resolve("vm.mig"));
        Files.write(uri.path(), new byte[(int) (SIZE / 4)]); // an old, longer-lived file: must be truncated
        try (MigrationChannel source = Transports.connect(uri, CONNECT_TIMEOUT)) {
            assertThat(source.supportsReturnPath()).isFalse();
            assertThatThrownBy(() -> source.in().read(ByteBuffer.allocate(1)))
                    .isInstanceOf(IOException.class).hasMessage("file: migration has no return path");
            Payload.write(source.out(), seed, SIZE / 2);
            source.shutdownOutput();
        }
        assertThat(Files.size(uri.path())).isEqualTo(SIZE / 2);
        try (IncomingListener listener = Transports.listen(uri); MigrationChannel destination = listener.accept()) {
            assertThat(listener.address()).isEqualTo(uri);
            assertThat(destination.supportsReturnPath()).isFalse();
            assertThatThrownBy(() -> destination.out().write(ByteBuffer.allocate(1)))
                    .isInstanceOf(IOException.class).hasMessage("file: migration has no return path");
            Payload.verify(destination.in(), seed, SIZE / 2);
        }
    }

    @Test
    void execCatToAFileAndBack() throws Exception {
        long seed = Payload.seed();
        Path file = dir.resolve("exec.mig");
        try (MigrationChannel source = Transports.connect(MigrationUri.parse("exec:cat > '" + file + "'"), CONNECT_TIMEOUT)) {
            assertThat(source.supportsReturnPath()).isFalse();
            assertThatThrownBy(() -> source.in().read(ByteBuffer.allocate(1)))
                    .isInstanceOf(IOException.class).hasMessage("exec: migration has no return path");
            Payload.write(source.out(), seed, SIZE);
        } // close: EOF to cat, then wait for it to finish writing the file
        assertThat(Files.size(file)).isEqualTo(SIZE);
        try (IncomingListener listener = Transports.listen(MigrationUri.parse("exec:cat '" + file + "'"));
             MigrationChannel destination = listener.accept()) {
            assertThat(destination.supportsReturnPath()).isFalse();
            assertThat(destination.describe()).isEqualTo("exec:cat '" + file + "'");
            assertThatThrownBy(() -> destination.out().write(ByteBuffer.allocate(1)))
                    .isInstanceOf(IOException.class).hasMessage("exec: migration has no return path");
            assertThatThrownBy(listener::accept).hasMessageContaining("only one channel");
            Payload.verify(destination.in(), seed, SIZE);
        }
    }
}
