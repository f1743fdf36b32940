package io.livemig.cli.qmp;

import java.nio.file.Path;

/** Where a QMP server listens: {@code -qmp unix:PATH,server=on,wait=off} or {@code -qmp tcp:HOST:PORT,…}. */
public sealed interface QmpAddress {

    record Unix(Path path) implements QmpAddress {
        @Override
        public String toString() {
            return "unix:" + path;
        }
    }

    record Tcp(String host, int port) implements QmpAddress {
        @Override
        public String toString() {
            return "tcp:" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }
}
