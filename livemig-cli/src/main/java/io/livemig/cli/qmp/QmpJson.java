package io.livemig.cli.qmp;

import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.json.JsonReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * JSON for QMP: a strict reader (duplicate keys and trailing tokens are errors, as in QEMU's
 * parser; single-quoted strings are accepted, a QEMU extension) and a writer that formats exactly
 * as QEMU's {@code qobject_to_json} does: {@code ", "} and {@code ": "} separators, non-ASCII and
 * control characters escaped as {@code \\uXXXX} with upper-case hex. Messages end in CRLF on the wire.
 */
public final class QmpJson {

    public static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(JsonReadFeature.ALLOW_SINGLE_QUOTES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private QmpJson() {
    }

    /** Parses one QMP input value; a failure carries QEMU's {@code JSON parse error, …} desc. */
    static JsonNode parse(byte[] buf, int len) throws QmpError {
        try {
            return MAPPER.readTree(MAPPER.createParser(buf, 0, len));
        } catch (JacksonException e) {
            throw QmpError.generic("JSON parse error, " + reason(e));
        }
    }

    private static String reason(JacksonException e) {
        String m = e.getOriginalMessage();
        if (m == null) {
            return "expecting value";
        }
        if (m.startsWith("Duplicate Object property")) {
            return "duplicate key";
        }
        int tok = m.indexOf("Unrecognized token '");
        if (tok >= 0) {
            int start = tok + "Unrecognized token '".length();
            int end = m.indexOf('\'', start);
            if (end > start) {
                return "invalid keyword '" + m.substring(start, end) + "'";
            }
        }
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    /** Converts maps, lists, strings, numbers, booleans and nulls (or a JsonNode) to QEMU-formatted JSON. */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder(128);
        write(MAPPER.valueToTree(value), sb);
        return sb.toString();
    }

    static void write(JsonNode node, StringBuilder sb) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            sb.append("null");
        } else if (node.isObject()) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (!first) {
                    sb.append(", ");
                }
                first = false;
                string(e.getKey(), sb);
                sb.append(": ");
                write(e.getValue(), sb);
            }
            sb.append('}');
        } else if (node.isArray()) {
            sb.append('[');
            Iterator<JsonNode> it = node.iterator();
            while (it.hasNext()) {
                write(it.next(), sb);
                if (it.hasNext()) {
                    sb.append(", ");
                }
            }
            sb.append(']');
        } else if (node.isString()) {
            string(node.asString(), sb);
        } else if (node.isBoolean()) {
            sb.append(node.booleanValue());
        } else if (node.isNumber()) {
            sb.append(node.numberValue());
        } else {
            string(node.asString(), sb);
        }
    }

    private static void string(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        sb.append(String.format(Locale.ROOT, "\\u%04X", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
