package io.livemig.cli.qmp;

import io.livemig.guest.RunState;
import io.livemig.vm.VirtualMachine;
import io.livemig.vm.VmCommandException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.livemig.cli.qmp.QmpArgs.Type.ARRAY;
import static io.livemig.cli.qmp.QmpArgs.Type.BOOLEAN;
import static io.livemig.cli.qmp.QmpArgs.Type.OBJECT;
import static io.livemig.cli.qmp.QmpArgs.Type.STRING;
import static io.livemig.cli.qmp.QmpArgs.optional;
import static io.livemig.cli.qmp.QmpArgs.required;

/**
 * Turns one parsed QMP request into its reply, following QEMU 7.2's {@code qmp_dispatch()}
 * (qapi/qmp-dispatch.c) and {@code monitor_qmp_dispatch()} (monitor/qmp.c): the request must be an
 * object with only {@code execute}, {@code arguments}, {@code id} (and {@code exec-oob}); the
 * command is looked up in the session's command set — before negotiation that set holds only
 * {@code qmp_capabilities}, and a {@code CommandNotFound} is reworded as QEMU rewords it — then the
 * arguments are checked against the command's schema, then the handler runs.
 *
 * <p>Stateless apart from the session passed in; called on that session's reader thread, so
 * commands from one client run in order and commands from different clients run concurrently
 * (the {@link VirtualMachine} facade is thread-safe).
 */
final class QmpDispatcher {

    /** What a handler needs from the connection it serves. */
    interface Session {
        boolean negotiated();

        void negotiate(boolean oob);

        boolean oobEnabled();

        /** Asks for the process to quit once this reply has been queued. */
        void requestQuit();
    }

    @FunctionalInterface
    private interface Handler {
        Object run(JsonNode args, Session session) throws QmpError, VmCommandException;
    }

    private record Command(QmpArgs args, Handler handler) {
    }

    private final VirtualMachine vm;
    private final QmpVersion version;
    private final Map<String, Command> commands = new LinkedHashMap<>();

    QmpDispatcher(VirtualMachine vm, QmpVersion version) {
        this.vm = vm;
        this.version = version;
        register();
    }

    private void register() {
        commands.put("qmp_capabilities", new Command(QmpArgs.of(optional("enable", ARRAY)), (a, s) -> {
            throw new QmpError(QmpError.COMMAND_NOT_FOUND, "Capabilities negotiation is already complete, command ignored");
        }));
        commands.put("query-status", new Command(QmpArgs.NONE, (a, s) -> {
            RunState st = vm.runState();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("status", st.qapiName());
            r.put("singlestep", false);
            r.put("running", st.isRunning());
            return r;
        }));
        commands.put("stop", new Command(QmpArgs.NONE, (a, s) -> {
            vm.stop();
            return Map.of();
        }));
        commands.put("cont", new Command(QmpArgs.NONE, (a, s) -> {
            vm.cont();
            return Map.of();
        }));
        commands.put("quit", new Command(QmpArgs.NONE, (a, s) -> {
            s.requestQuit();
            return Map.of();
        }));
        commands.put("query-name", new Command(QmpArgs.NONE,
                (a, s) -> vm.config().name().<Map<String, Object>>map(n -> Map.of("name", n)).orElse(Map.of())));
        commands.put("query-version", new Command(QmpArgs.NONE, (a, s) -> version.toQapi()));
        commands.put("query-commands", new Command(QmpArgs.NONE, (a, s) -> {
            List<Map<String, Object>> names = new ArrayList<>();
            for (String name : commands.keySet()) {
                names.add(Map.of("name", name));
            }
            return names;
        }));
        commands.put("migrate", new Command(QmpArgs.of(required("uri", STRING), optional("blk", BOOLEAN),
                optional("inc", BOOLEAN), optional("detach", BOOLEAN), optional("resume", BOOLEAN)), (a, s) -> {
            for (String unsupported : List.of("blk", "inc", "resume")) {
                if (a.path(unsupported).asBoolean(false)) {
                    throw QmpError.generic("Parameter '" + unsupported + "' is not supported by livemig"
                            + (unsupported.equals("resume") ? " (no postcopy)" : " (no block migration)"));
                }
            }
            vm.migrate(a.get("uri").asString());
            return Map.of();
        }));
        commands.put("migrate-incoming", new Command(QmpArgs.of(required("uri", STRING)), (a, s) -> {
            vm.migrateIncoming(a.get("uri").asString());
            return Map.of();
        }));
        Command cancel = new Command(QmpArgs.NONE, (a, s) -> {
            vm.migrateCancel();
            return Map.of();
        });
        commands.put("migrate_cancel", cancel);
        commands.put("migrate-cancel", cancel);
        commands.put("query-migrate", new Command(QmpArgs.NONE, (a, s) -> vm.queryMigrate()));
        commands.put("migrate-set-parameters", new Command(null, (a, s) -> {
            vm.setMigrateParameters(toMap(a));
            return Map.of();
        }));
        commands.put("query-migrate-parameters", new Command(QmpArgs.NONE, (a, s) -> vm.queryMigrateParameters()));
        // QEMU 7.2's flat object-add; livemig creates only authz-simple at run time (for tls-authz)
        commands.put("object-add", new Command(null, (a, s) -> {
            vm.objectAdd(toMap(a));
            return Map.of();
        }));
        commands.put("object-del", new Command(QmpArgs.of(required("id", STRING)), (a, s) -> {
            vm.objectDel(a.get("id").asString());
            return Map.of();
        }));
        commands.put("migrate-set-capabilities", new Command(QmpArgs.of(required("capabilities", ARRAY)), (a, s) -> {
            QmpArgs element = QmpArgs.of(required("capability", STRING), required("state", BOOLEAN));
            List<Map<String, Object>> caps = new ArrayList<>();
            int i = 0;
            for (JsonNode c : a.get("capabilities")) {
                String path = "capabilities[" + i++ + "]";
                QmpArgs.checkType(c, OBJECT, path);
                element.check(c, path + ".");
                caps.add(toMap(c));
            }
            vm.setMigrateCapabilities(caps);
            return Map.of();
        }));
        commands.put("qom-get", new Command(QmpArgs.of(required("path", STRING), required("property", STRING)),
                (a, s) -> vm.qomGet(a.get("path").asString(), a.get("property").asString())));
        commands.put("query-migrate-capabilities", new Command(QmpArgs.NONE, (a, s) -> vm.queryMigrateCapabilities()));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> toMap(JsonNode obj) {
        return QmpJson.MAPPER.convertValue(obj, LinkedHashMap.class);
    }

    /** Handles {@code request}; returns the reply (without line ending). */
    String dispatch(JsonNode request, Session session) {
        JsonNode id = request.isObject() ? request.get("id") : null;
        Map<String, Object> reply = new LinkedHashMap<>();
        try {
            reply.put("return", execute(request, session));
        } catch (QmpError e) {
            reply.put("error", error(e.errorClass(), e.desc()));
        }
        if (id != null) {
            reply.put("id", id);
        }
        return QmpJson.write(reply);
    }

    static Map<String, Object> error(String errorClass, String desc) {
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("class", errorClass);
        err.put("desc", desc);
        return err;
    }

    private Object execute(JsonNode request, Session session) throws QmpError {
        if (!request.isObject()) {
            throw QmpError.generic("QMP input must be a JSON object");
        }
        for (Map.Entry<String, JsonNode> e : request.properties()) {
            switch (e.getKey()) {
                case "execute", "exec-oob" -> {
                    if (e.getKey().equals("exec-oob") && !session.oobEnabled()) {
                        throw QmpError.generic("QMP input member 'exec-oob' is unexpected");
                    }
                    if (!e.getValue().isString()) {
                        throw QmpError.generic("QMP input member '" + e.getKey() + "' must be a string");
                    }
                }
                case "arguments" -> {
                    if (!e.getValue().isObject()) {
                        throw QmpError.generic("QMP input member 'arguments' must be an object");
                    }
                }
                case "id" -> {
                    // echoed as is
                }
                default -> throw QmpError.generic("QMP input member '" + e.getKey() + "' is unexpected");
            }
        }
        JsonNode exec = request.get("execute");
        JsonNode oob = request.get("exec-oob");
        if (exec != null && oob != null) {
            throw QmpError.generic("QMP input must not have both 'execute' and 'exec-oob'");
        }
        if (exec == null && oob == null) {
            throw QmpError.generic("QMP input lacks member 'execute'");
        }
        String name = (exec != null ? exec : oob).asString();
        JsonNode args = request.has("arguments") ? request.get("arguments") : QmpJson.MAPPER.createObjectNode();
        if (!session.negotiated()) {
            if (!name.equals("qmp_capabilities")) {
                throw new QmpError(QmpError.COMMAND_NOT_FOUND, "Expecting capabilities negotiation with 'qmp_capabilities'");
            }
            return negotiate((ObjectNode) args, session);
        }
        Command cmd = commands.get(name);
        if (cmd == null) {
            throw new QmpError(QmpError.COMMAND_NOT_FOUND, "The command " + name + " has not been found");
        }
        if (oob != null) {
            throw QmpError.generic("The command " + name + " does not support OOB");
        }
        if (cmd.args() != null) {
            cmd.args().check(args, "");
        }
        try {
            return cmd.handler().run(args, session);
        } catch (VmCommandException e) {
            throw QmpError.of(e);
        }
    }

    private static Object negotiate(ObjectNode args, Session session) throws QmpError {
        QmpArgs.of(optional("enable", ARRAY)).check(args, "");
        boolean oob = false;
        JsonNode enable = args.get("enable");
        if (enable != null) {
            int i = 0;
            for (JsonNode cap : enable) {
                QmpArgs.checkType(cap, STRING, "enable[" + i++ + "]");
                if (!cap.asString().equals("oob")) {
                    // QEMU 7.2's exact wording, 'null' included
                    throw QmpError.generic("Parameter 'null' does not accept value '" + cap.asString() + "'");
                }
                oob = true;
            }
        }
        session.negotiate(oob);
        return Map.of();
    }
}
