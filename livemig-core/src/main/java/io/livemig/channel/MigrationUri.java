package io.livemig.channel;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A parsed migration URI, in the forms QEMU's {@code migrate} command and {@code -incoming}
 * option accept (migration.c {@code migrate_uri_parse()}, socket.c, exec.c, file.c):
 *
 * <pre>
 *   tcp:HOST:PORT     HOST is a name, an IPv4 literal, an IPv6 literal in [brackets], or empty
 *   unix:PATH         a unix domain stream socket
 *   file:PATH         a plain file; no return path
 *   exec:CMD          /bin/sh -c CMD; the stream is its stdin (source) or stdout (destination)
 *   defer             -incoming only: the URI comes later through migrate-incoming
 * </pre>
 *
 * <p>{@link #parse} is the edge where a URI is validated; the records trust their values apart
 * from the basic range checks in their constructors. Errors name the bad value and the whole URI,
 * e.g. {@code "invalid port 'abc' in 'tcp:host:abc'"}.
 *
 * <p>Deliberate narrowings of QEMU's grammar, each rejected with a message that says so: tcp
 * options ({@code ,ipv4}, {@code ,to=}, {@code ,keep-alive}), {@code file:PATH,offset=N}
 * (QEMU's mapped-ram offset) and any other {@code ,name=value} suffix on a file path, and the
 * {@code fd:}, {@code rdma:} and {@code vsock:} transports.
 */
public sealed interface MigrationUri {

    /**
     * {@code tcp:HOST:PORT}.
     *
     * @param host a host name or an IP literal, IPv6 without brackets (they are stripped if
     *             given); empty means "all interfaces" when listening, as in QEMU, and the
     *             loopback address when connecting (getaddrinfo with no node name)
     * @param port 0..65535; 0 asks {@link Transports#listen} for a free port and is refused by
     *             {@link Transports#connect}
     */
    record Tcp(String host, int port) implements MigrationUri {
        public Tcp {
            Objects.requireNonNull(host, "host");
            if (host.length() >= 2 && host.charAt(0) == '[' && host.charAt(host.length() - 1) == ']') {
                host = host.substring(1, host.length() - 1);
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("tcp port must be 0..65535, got " + port);
            }
        }

        /** {@code HOST:PORT}, with an IPv6 host in brackets; used in messages. */
        public String hostPort() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }

        @Override
        public String toString() {
            return "tcp:" + hostPort();
        }
    }

    /** {@code unix:PATH}. */
    record Unix(Path path) implements MigrationUri {
        public Unix {
            Objects.requireNonNull(path, "path");
            if (path.toString().isEmpty()) {
                throw new IllegalArgumentException("unix socket path is empty");
            }
        }

        @Override
        public String toString() {
            return "unix:" + path;
        }
    }

    /** {@code file:PATH}. */
    record File(Path path) implements MigrationUri {
        public File {
            Objects.requireNonNull(path, "path");
            if (path.toString().isEmpty()) {
                throw new IllegalArgumentException("file path is empty");
            }
        }

        @Override
        public String toString() {
            return "file:" + path;
        }
    }

    /** {@code exec:CMD}, run as {@code /bin/sh -c CMD}. */
    record Exec(String command) implements MigrationUri {
        public Exec {
            Objects.requireNonNull(command, "command");
            if (command.isBlank()) {
                throw new IllegalArgumentException("exec command is empty");
            }
        }

        @Override
        public String toString() {
            return "exec:" + command;
        }
    }

    /** {@code defer}: valid for {@code -incoming} only; the real URI arrives later. */
    record Defer() implements MigrationUri {
        @Override
        public String toString() {
            return "defer";
        }
    }

    /**
     * Parses a migration URI.
     *
     * @throws IllegalArgumentException naming the bad value and the URI
     */
    static MigrationUri parse(String uri) {
        return UriParser.parse(uri);
    }

    /** The canonical form, which {@link #parse} maps back to an equal value. */
    @Override
    String toString();
}
