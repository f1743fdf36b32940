package io.livemig.cli.qmp;

import tools.jackson.databind.JsonNode;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A command's argument schema and QEMU's checks against it (the QAPI input visitor,
 * qapi/qobject-input-visitor.c): members are visited in schema order, so a missing or mistyped
 * member is reported before an unexpected one, with QEMU 7.2's messages —
 * {@code Parameter 'uri' is missing}, {@code Invalid parameter type for 'uri', expected: string},
 * {@code Parameter 'foo' is unexpected}. Nested names read {@code capabilities[0].state}.
 */
record QmpArgs(List<Member> members) {

    enum Type {
        STRING("string"), BOOLEAN("boolean"), ARRAY("array"), OBJECT("object");

        final String qapiName;

        Type(String qapiName) {
            this.qapiName = qapiName;
        }

        boolean matches(JsonNode n) {
            return switch (this) {
                case STRING -> n.isString();
                case BOOLEAN -> n.isBoolean();
                case ARRAY -> n.isArray();
                case OBJECT -> n.isObject();
            };
        }
    }

    record Member(String name, Type type, boolean required) {
    }

    static final QmpArgs NONE = new QmpArgs(List.of());

    static Member required(String name, Type type) {
        return new Member(name, type, true);
    }

    static Member optional(String name, Type type) {
        return new Member(name, type, false);
    }

    static QmpArgs of(Member... members) {
        return new QmpArgs(List.of(members));
    }

    /** Checks {@code obj} (an object) against this schema; {@code prefix} is "" or e.g. "capabilities[0]." */
    void check(JsonNode obj, String prefix) throws QmpError {
        for (Member m : members) {
            JsonNode v = obj.get(m.name());
            if (v == null) {
                if (m.required()) {
                    throw QmpError.generic("Parameter '" + prefix + m.name() + "' is missing");
                }
            } else {
                checkType(v, m.type(), prefix + m.name());
            }
        }
        Set<String> known = members.stream().map(Member::name).collect(Collectors.toSet());
        for (String key : obj.propertyNames()) {
            if (!known.contains(key)) {
                throw QmpError.generic("Parameter '" + prefix + key + "' is unexpected");
            }
        }
    }

    static void checkType(JsonNode v, Type type, String path) throws QmpError {
        if (!type.matches(v)) {
            throw QmpError.generic("Invalid parameter type for '" + path + "', expected: " + type.qapiName);
        }
    }
}
