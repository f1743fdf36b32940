package io.livemig.channel;

import java.io.IOException;
import java.time.Duration;
import java.util.Objects;

/**
 * The entry points of the transport layer: QEMU's migration_channel_connect side
 * ({@code migrate URI}: socket_start_outgoing_migration, exec_start_outgoing_migration,
 * file_start_outgoing_migration) and the {@code -incoming URI} side (the matching
 * *_start_incoming_migration). A dispatch on the {@link MigrationUri} kind, nothing more.
 */
public final class Transports {

    private Transports() {
    }

    /**
     * Source side: connect to the destination (tcp, unix), create and truncate the file (file),
     * or start {@code /bin/sh -c CMD} and write to its stdin (exec).
     *
     * @param timeout bounds the socket connect; file and exec ignore it
     * @throws IllegalArgumentException for {@code defer} and for tcp port 0
     * @throws IOException naming the address, e.g. "Failed to connect to 127.0.0.1:1: Connection refused"
     */
    public static MigrationChannel connect(MigrationUri uri, Duration timeout) throws IOException {
        Objects.requireNonNull(timeout, "timeout");
        return switch (Objects.requireNonNull(uri, "uri")) {
            case MigrationUri.Tcp tcp -> SocketTransport.connect(tcp, timeout);
            case MigrationUri.Unix unix -> SocketTransport.connect(unix, timeout);
            case MigrationUri.File file -> FileMigrationChannel.create(file);
            case MigrationUri.Exec exec -> ExecMigrationChannel.start(exec, true);
            case MigrationUri.Defer defer ->
                    throw new IllegalArgumentException("'defer' is only valid for -incoming");
        };
    }

    /**
     * Destination side: bind and listen (tcp, unix; tcp port 0 picks a free port), open the file
     * for reading (file), or start {@code /bin/sh -c CMD} and read its stdout (exec).
     *
     * @throws IllegalArgumentException for {@code defer}: there is nothing to listen on yet
     */
    public static IncomingListener listen(MigrationUri uri) throws IOException {
        return switch (Objects.requireNonNull(uri, "uri")) {
            case MigrationUri.Tcp tcp -> SocketTransport.listen(tcp);
            case MigrationUri.Unix unix -> SocketTransport.listen(unix);
            case MigrationUri.File file -> new FileIncomingListener(file);
            case MigrationUri.Exec exec -> new ExecIncomingListener(exec);
            case MigrationUri.Defer defer -> throw new IllegalArgumentException(
                    "cannot listen on 'defer': start the incoming side with migrate-incoming URI");
        };
    }
}
