package io.livemig.channel;

import java.io.IOException;

/**
 * What is layered over each freshly connected or accepted migration connection before any
 * migration byte moves: nothing ({@link #NONE}), or a TLS session with its handshake (QEMU's
 * {@code migration_tls_channel_connect} / {@code migration_tls_channel_process_incoming}, done
 * for the main channel and for every multifd channel alike).
 */
@FunctionalInterface
public interface ChannelWrapper {

    /** Plain connections. */
    ChannelWrapper NONE = plain -> plain;

    /**
     * Returns the channel to use instead of {@code plain}; on failure it has closed {@code plain}
     * and the exception says why.
     */
    MigrationChannel wrap(MigrationChannel plain) throws IOException;
}
