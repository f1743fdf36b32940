package io.livemig.channel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Failures fail fast and name the address; close() from another thread unblocks reads, writes, accepts. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TransportCloseTest {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** How long a blocked operation may take to notice close(); far below the test's hard timeout. */
    private static final long UNBLOCK_SECONDS = 5;

    @TempDir
    Path dir;

    @Test
    void refusedTcpConnectionFailsFastNamingTheAddress() throws IOException {
        int port;
        try (ServerSocketChannel closed = ServerSocketChannel.open()) {
            closed.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            port = ((InetSocketAddress) closed.getLocalAddress()).getPort();
        }
        long start = System.nanoTime();
        assertThatThrownBy(() -> Transports.connect(new MigrationUri.Tcp("127.0.0.1", port), CONNECT_TIMEOUT))
                .isInstanceOf(ConnectException.class)
                .hasMessage("Failed to connect to 127.0.0.1:" + port + ": Connection refused");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
    }

    @Test
    void missingUnixSocketFailsNamingThePath() {
        Path path = dir.resolve("nobody.sock");
        assertThatThrownBy(() -> Transports.connect(new MigrationUri.Unix(path), CONNECT_TIMEOUT))
                .isInstanceOf(IOException.class)
                .hasMessageStartingWith("Failed to connect to " + path + ": ");
    }

    @Test
    void connectRejectsPortZeroAndDefer() {
        assertThatThrownBy(() -> Transports.connect(MigrationUri.parse("tcp:127.0.0.1:0"), CONNECT_TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port 0");
        assertThatThrownBy(() -> Transports.connect(new MigrationUri.Defer(), CONNECT_TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("defer");
        assertThatThrownBy(() -> Transports.listen(new MigrationUri.Defer()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("defer");
    }

    @Test
    void closeUnblocksATcpRead() throws Exception {
        closeUnblocksASocketRead(MigrationUri.parse("tcp:127.0.0.1:0"));
    }

    @Test
    void closeUnblocksAUnixRead() throws Exception {
        closeUnblocksASocketRead(new MigrationUri.Unix(dir.resolve("read.sock")));
    }

    /** Once for the destination's main stream, once for the source's return path; the peer stays open. */
    private void closeUnblocksASocketRead(MigrationUri listenOn) throws Exception {
        try (IncomingListener listener = Transports.listen(listenOn)) {
            try (MigrationChannel source = Transports.connect(listener.address(), CONNECT_TIMEOUT)) {
                MigrationChannel destination = listener.accept();
                Forked<Integer> reader = Forked.fork("blocked-reader", () -> destination.in().read(ByteBuffer.allocate(64)));
                reader.awaitInside("read0", "poll", "park");
                destination.close();
                assertClosedWithin(reader);
                assertThat(source.describe()).isEqualTo(listener.address().toString());
            }
            try (MigrationChannel second = Transports.connect(listener.address(), CONNECT_TIMEOUT);
                 MigrationChannel destination = listener.accept()) {
                // a second connection on the same listener, as multifd channels use it
                assertThat(second.supportsReturnPath()).isTrue();
                assertThat(destination.supportsReturnPath()).isTrue();
            }
        }
        try (IncomingListener listener = Transports.listen(listenOn)) {
            MigrationChannel source = Transports.connect(listener.address(), CONNECT_TIMEOUT);
            try (MigrationChannel destination = listener.accept()) {
                Forked<Integer> returnPath = Forked.fork("blocked-return-path", () -> source.in().read(ByteBuffer.allocate(64)));
                returnPath.awaitInside("read0", "poll", "park");
                source.close();
                assertClosedWithin(returnPath);
                assertThat(destination.describe()).isEqualTo(listener.address().toString());
            }
        }
    }

    @Test
    void closeUnblocksATcpWrite() throws Exception {
        try (IncomingListener listener = Transports.listen(MigrationUri.parse("tcp:127.0.0.1:0"))) {
            MigrationChannel source = Transports.connect(listener.address(), CONNECT_TIMEOUT);
            MigrationChannel destination = listener.accept(); // never reads: the source's buffers fill up
            Forked<Void> writer = Forked.fork("blocked-writer", () -> writeForever(source));
            writer.awaitInside("write0", "poll", "park");
            source.close();
            assertClosedWithin(writer);
            destination.close();
        }
    }

    @Test
    void closeUnblocksAnAccept() throws Exception {
        IncomingListener listener = Transports.listen(MigrationUri.parse("tcp:127.0.0.1:0"));
        Forked<MigrationChannel> acceptor = Forked.fork("blocked-accept", listener::accept);
        acceptor.awaitInside("accept", "accept0", "poll", "park");
        listener.close();
        assertClosedWithin(acceptor);
    }

    @Test
    void closeUnblocksAnExecReadAndKillsTheCommand() throws Exception {
        try (IncomingListener listener = Transports.listen(MigrationUri.parse("exec:sleep 60; echo never"))) {
            MigrationChannel destination = listener.accept();
            Process process = ((ExecMigrationChannel) destination).process();
            Forked<Integer> reader = Forked.fork("blocked-exec-reader", () -> destination.in().read(ByteBuffer.allocate(64)));
            reader.awaitInside("readBytes");
            // sh forks sleep some time after start; capturing the tree before that would make the
            // last assertion vacuous, and the grandchild is the case close() must handle
            Forked.await(() -> process.descendants().findAny().isPresent(), Duration.ofSeconds(10),
                    "sh to fork sleep");
            List<ProcessHandle> tree = process.descendants().toList();
            destination.close();
            assertClosedWithin(reader);
            assertThat(process.isAlive()).isFalse();
            assertThat(tree).noneMatch(ProcessHandle::isAlive);
        }
    }

    @Test
    void closeUnblocksAnExecWriteToACommandThatDoesNotRead() throws Exception {
        // a second step after sleep, so sh forks sleep and must not live to run the touch
        Path ran = dir.resolve("ran-after-close");
        MigrationChannel source = Transports.connect(MigrationUri.parse("exec:sleep 60; touch " + ran), CONNECT_TIMEOUT);
        Process process = ((ExecMigrationChannel) source).process();
        Forked<Void> writer = Forked.fork("blocked-exec-writer", () -> writeForever(source));
        writer.awaitInside("writeBytes");
        Forked.await(() -> process.descendants().findAny().isPresent(), Duration.ofSeconds(10), "sh to fork sleep");
        List<ProcessHandle> tree = process.descendants().toList();
        source.close();
        assertClosedWithin(writer);
        assertThat(process.isAlive()).isFalse();
        assertThat(tree).noneMatch(ProcessHandle::isAlive);
        // sh is dead and reaped, so had it run the touch, the file would exist by now
        assertThat(ran).doesNotExist();
    }

    @Test
    void execCommandThatFailsIsReportedWithItsStatus() {
        assertThatThrownBy(() -> {
            try (MigrationChannel source = Transports.connect(MigrationUri.parse("exec:exit 3"), CONNECT_TIMEOUT)) {
                source.out().write(ByteBuffer.allocate(16));
            }
        }).isInstanceOf(IOException.class).hasMessageContaining("exec:exit 3: command exited with status 3");
    }

    @Test
    void unixListenerReplacesAStaleSocketAndRemovesItsOwnOnClose() throws IOException {
        Path path = dir.resolve("stale.sock");
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(path)); // closing it leaves the file behind, like a crash
        }
        assertThat(path).exists();
        IncomingListener listener = Transports.listen(new MigrationUri.Unix(path));
        assertThat(listener.address()).isEqualTo(new MigrationUri.Unix(path));
        try (MigrationChannel source = Transports.connect(listener.address(), CONNECT_TIMEOUT);
             MigrationChannel destination = listener.accept()) {
            assertThat(source.describe()).isEqualTo("unix:" + path);
            assertThat(destination.describe()).isEqualTo("unix:" + path);
        }
        listener.close();
        assertThat(path).doesNotExist();
    }

    @Test
    void unixListenerRefusesToDeleteSomethingThatIsNotASocket() throws IOException {
        Path path = dir.resolve("precious.txt");
        Files.writeString(path, "keep me");
        assertThatThrownBy(() -> Transports.listen(new MigrationUri.Unix(path)))
                .isInstanceOf(IOException.class)
                .hasMessage("Failed to listen on " + path + ": the path exists and is not a socket");
        assertThat(path).hasContent("keep me");
    }

    @Test
    void fileListenOnAMissingFileFailsAtOnce() {
        Path path = dir.resolve("missing.mig");
        assertThatThrownBy(() -> Transports.listen(new MigrationUri.File(path)))
                .isInstanceOf(java.nio.file.NoSuchFileException.class)
                .hasMessageContaining(path.toString());
    }

    @Test
    void tcpListenerReportsTheRealPortAndAnEmptyHostMeansAllInterfaces() throws IOException {
        try (IncomingListener listener = Transports.listen(MigrationUri.parse("tcp::0"))) {
            MigrationUri.Tcp address = (MigrationUri.Tcp) listener.address();
            assertThat(address.host()).isEmpty();
            assertThat(address.port()).isBetween(1, 65535);
            try (MigrationChannel source = Transports.connect(address, CONNECT_TIMEOUT);
                 MigrationChannel destination = listener.accept()) {
                assertThat(source.describe()).isEqualTo("tcp::" + address.port());
                assertThat(destination.describe()).isEqualTo("tcp::" + address.port());
            }
        }
    }

    private static Void writeForever(MigrationChannel channel) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
        while (true) {
            chunk.clear();
            channel.out().write(chunk);
        }
    }

    private static void assertClosedWithin(Forked<?> blocked) {
        String name = blocked.thread().getName();
        Object returned;
        try {
            returned = blocked.future().get(UNBLOCK_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).as("%s must be unblocked by close()", name)
                    .isInstanceOf(ClosedChannelException.class);
            return;
        } catch (java.util.concurrent.TimeoutException | InterruptedException e) {
            throw new AssertionError(name + " was not unblocked by close() within " + UNBLOCK_SECONDS + " s", e);
        }
        throw new AssertionError(name + " must end with a ClosedChannelException after close(), but returned "
                + returned);
    }
}
