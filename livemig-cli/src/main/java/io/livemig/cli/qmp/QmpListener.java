package io.livemig.cli.qmp;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A listening socket for one {@code -qmp} address.
 *
 * <p>A unix socket must never be reachable by other users, not even for an instant. The socket
 * file is created by {@code bind} with the process umask, so binding at the final path and then
 * chmod-ing leaves a window. Instead it is bound inside a fresh directory created with mode 0700
 * (no one else can reach into it), set to 0600, and renamed atomically onto the final path —
 * replacing a stale socket there, as QEMU unlinks one before binding. A connect by path resolves
 * to the socket's inode, so the rename does not disturb it.
 */
final class QmpListener implements AutoCloseable {

    private final QmpAddress address;
    private final ServerSocketChannel channel;

    private QmpListener(QmpAddress address, ServerSocketChannel channel) {
        this.address = address;
        this.channel = channel;
    }

    static QmpListener open(QmpAddress address) throws IOException {
        return switch (address) {
            case QmpAddress.Unix u -> new QmpListener(address, bindUnix(u.path().toAbsolutePath()));
            case QmpAddress.Tcp t -> {
                ServerSocketChannel ch = ServerSocketChannel.open();
                try {
                    ch.bind(new InetSocketAddress(t.host(), t.port()));
                } catch (IOException e) {
                    ch.close();
                    throw new IOException("cannot listen on " + t + ": " + e.getMessage(), e);
                }
                yield new QmpListener(address, ch);
            }
        };
    }

    private static ServerSocketChannel bindUnix(Path path) throws IOException {
        Path dir;
        try {
            dir = Files.createTempDirectory(path.getParent(), ".qmp-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new IOException("cannot listen on unix:" + path + ": cannot create a socket in "
                    + path.getParent() + " (" + e.getClass().getSimpleName() + ")", e);
        }
        Path tmp = dir.resolve("s");
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(tmp));
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return ch;
        } catch (IOException e) {
            ch.close();
            Files.deleteIfExists(tmp);
            throw new IOException("cannot listen on unix:" + path + ": " + e.getMessage(), e);
        } finally {
            Files.deleteIfExists(dir);
        }
    }

    ServerSocketChannel channel() {
        return channel;
    }

    QmpAddress address() {
        return address;
    }

    @Override
    public void close() throws IOException {
        channel.close();
        if (address instanceof QmpAddress.Unix u) {
            Files.deleteIfExists(u.path().toAbsolutePath());
        }
    }
}
