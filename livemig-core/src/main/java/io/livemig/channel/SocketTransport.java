package io.livemig.channel;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.ProtocolFamily;
import java.net.SocketAddress;
import java.net.SocketOption;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.NetworkChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * tcp and unix sockets, QEMU's migration/socket.c: socket_start_outgoing_migration() and
 * socket_start_incoming_migration().
 *
 * <p>Connecting is a non-blocking connect bounded by a {@link Selector} wait, then the channel goes
 * back to blocking mode for the stream: this bounds both tcp (SYN to a silent host) and unix (full
 * backlog) with one code path. A refused connection fails at once, and every failure names the
 * address: {@code "Failed to connect to 127.0.0.1:1: Connection refused"}.
 *
 * <p>Tuning ({@link #tune}): TCP_NODELAY, since the stream layer already writes large buffers and
 * small return-path messages must not wait for Nagle; and {@value #BUFFER_HINT}-byte send and
 * receive buffer hints, set before connect/bind so tcp negotiates a window scale to match. Linux
 * caps the hints at net.core.[rw]mem_max and stops autotuning a socket whose size was set.
 *
 * <p>A unix listener first removes a stale socket file at its path, as QEMU's unix_listen_saddr()
 * does, but refuses to remove anything that is not a socket (QEMU would unlink it).
 */
final class SocketTransport {

    /** Send and receive buffer size hint, in bytes. */
    static final int BUFFER_HINT = 4 << 20;

    /** st_mode file-type bits for a socket (S_IFMT, S_IFSOCK). */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private SocketTransport() {
    }

    static MigrationChannel connect(MigrationUri.Tcp uri, Duration timeout) throws IOException {
        if (uri.port() == 0) {
            throw new IllegalArgumentException("port 0 is only valid for -incoming, in '" + uri + "'");
        }
        InetSocketAddress address = uri.host().isEmpty()
                ? new InetSocketAddress(InetAddress.getLoopbackAddress(), uri.port())
                : new InetSocketAddress(uri.host(), uri.port());
        if (address.isUnresolved()) {
            throw new UnknownHostException("Failed to connect to " + uri.hostPort() + ": unknown host");
        }
        ProtocolFamily family = address.getAddress() instanceof java.net.Inet6Address
                ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
        return connect(family, address, uri.hostPort(), uri.toString(), timeout);
    }

    static MigrationChannel connect(MigrationUri.Unix uri, Duration timeout) throws IOException {
        return connect(StandardProtocolFamily.UNIX, UnixDomainSocketAddress.of(uri.path()),
                uri.path().toString(), uri.toString(), timeout);
    }

    private static MigrationChannel connect(ProtocolFamily family, SocketAddress address, String name,
                                            String description, Duration timeout) throws IOException {
        SocketChannel socket = SocketChannel.open(family);
        try {
            tune(socket);
            socket.configureBlocking(false);
            if (!socket.connect(address)) {
                awaitConnect(socket, name, timeout);
            }
            socket.configureBlocking(true);
            return new SocketMigrationChannel(socket, description);
        } catch (IOException e) {
            socket.close();
            throw named(e, name);
        } catch (RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    private static void awaitConnect(SocketChannel socket, String name, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Selector selector = Selector.open()) {
            socket.register(selector, SelectionKey.OP_CONNECT);
            while (!socket.finishConnect()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new SocketTimeoutException(
                            "Failed to connect to " + name + ": timed out after " + timeout.toMillis() + " ms");
                }
                selector.select(Math.max(1, Duration.ofNanos(left).toMillis()));
                selector.selectedKeys().clear();
            }
        }
        // closing the selector deregistered the channel, so it may go back to blocking mode
    }

    /** Re-throws with the address in the message, keeping the exception's kind for callers that test it. */
    private static IOException named(IOException e, String name) {
        String message = e.getMessage();
        if (message != null && message.startsWith("Failed to connect to ")) {
            return e;
        }
        String text = "Failed to connect to " + name + ": " + (message == null ? e.getClass().getSimpleName() : message);
        IOException named = switch (e) {
            case ConnectException c -> new ConnectException(text);
            case NoRouteToHostException n -> new NoRouteToHostException(text);
            case NoSuchFileException n -> new NoSuchFileException(name, null, text);
            default -> new IOException(text);
        };
        named.initCause(e);
        return named;
    }

    static IncomingListener listen(MigrationUri.Tcp uri) throws IOException {
        InetSocketAddress bind = uri.host().isEmpty()
                ? new InetSocketAddress(uri.port())
                : new InetSocketAddress(uri.host(), uri.port());
        if (bind.isUnresolved()) {
            throw new UnknownHostException("Failed to listen on " + uri.hostPort() + ": unknown host");
        }
        ServerSocketChannel server = ServerSocketChannel.open(
                bind.getAddress() instanceof java.net.Inet4Address
                        ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6);
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.setOption(StandardSocketOptions.SO_RCVBUF, BUFFER_HINT);
            server.bind(bind);
            InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
            String host = bound.getAddress().isAnyLocalAddress() ? uri.host() : bound.getAddress().getHostAddress();
            return new SocketIncomingListener(server, new MigrationUri.Tcp(host, bound.getPort()), null);
        } catch (IOException e) {
            server.close();
            throw new IOException("Failed to listen on " + uri.hostPort() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    static IncomingListener listen(MigrationUri.Unix uri) throws IOException {
        Path path = uri.path();
        removeStaleSocket(path);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(path));
            return new SocketIncomingListener(server, uri, path);
        } catch (IOException e) {
            server.close();
            throw new IOException("Failed to listen on " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    private static void removeStaleSocket(Path path) throws IOException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new IOException("Failed to listen on " + path + ": the path exists and is not a socket");
        }
        Files.deleteIfExists(path);
    }

    /** TCP_NODELAY and buffer hints, where the socket's family supports them. */
    static void tune(NetworkChannel socket) throws IOException {
        setIfSupported(socket, StandardSocketOptions.TCP_NODELAY, true);
        setIfSupported(socket, StandardSocketOptions.SO_SNDBUF, BUFFER_HINT);
        setIfSupported(socket, StandardSocketOptions.SO_RCVBUF, BUFFER_HINT);
    }

    private static <T> void setIfSupported(NetworkChannel socket, SocketOption<T> option, T value) throws IOException {
        if (socket.supportedOptions().contains(option)) {
            socket.setOption(option, value);
        }
    }
}
