package io.livemig.cli.qmp;

import io.livemig.vm.PagePathWarmup;
import io.livemig.vm.VirtualMachine;

import java.nio.charset.StandardCharsets;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The QMP half of the start-up warm-up: while {@link PagePathWarmup} migrates its small guests,
 * this answers {@code query-migrate} for them through the same parse, dispatch and JSON writing a
 * client's request goes through, so the first real polls during a migration do not run in the
 * interpreter (they cost 0.2-0.5 ms of CPU each while cold, docs/benchmarks.md). Only the socket
 * I/O is left out. Used on the warm-up thread alone.
 */
public final class QmpWarmup implements PagePathWarmup.Observer {

    private static final byte[] QUERY_MIGRATE = "{\"execute\": \"query-migrate\"}".getBytes(StandardCharsets.UTF_8);

    private final QmpVersion version;
    private final Map<VirtualMachine, QmpDispatcher> dispatchers = new IdentityHashMap<>();
    private final QmpDispatcher.Session session = new QmpDispatcher.Session() {
        @Override
        public boolean negotiated() {
            return true;
        }

        @Override
        public void negotiate(boolean oob) {
        }

        @Override
        public boolean oobEnabled() {
            return false;
        }

        @Override
        public void requestQuit() {
        }
    };

    public QmpWarmup(String livemigVersion) {
        this.version = QmpVersion.livemig(livemigVersion);
    }

    @Override
    public void poll(VirtualMachine vm) {
        QmpDispatcher d = dispatchers.computeIfAbsent(vm, v -> new QmpDispatcher(v, version));
        try {
            String reply = d.dispatch(QmpJson.parse(QUERY_MIGRATE, QUERY_MIGRATE.length), session);
            if (!reply.startsWith("{\"return\"")) {
                throw new IllegalStateException("warm-up query-migrate answered " + reply);
            }
        } catch (QmpError e) {
            throw new IllegalStateException("warm-up query-migrate: " + e.desc(), e);
        }
    }
}
