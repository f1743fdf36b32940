package io.livemig.channel;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The grammar behind {@link MigrationUri#parse}: QEMU's {@code migrate_uri_parse()} with
 * {@code inet_parse()} for tcp. Each rejection names the offending piece and quotes the whole URI,
 * in the style of QEMU's error_setg() messages. Prefixes are case-sensitive, as QEMU's
 * {@code strstart()} is. Stateless.
 */
final class UriParser {

    /** A trailing {@code ,name=value} on a file path: QEMU's {@code ,offset=N}, or a typo of it. */
    private static final Pattern FILE_OPTION = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]*=[^/]*");

    private UriParser() {
    }

    static MigrationUri parse(String uri) {
        Objects.requireNonNull(uri, "uri");
        if (uri.isEmpty()) {
            throw new IllegalArgumentException("migration URI is empty");
        }
        if (uri.equals("defer")) {
            return new MigrationUri.Defer();
        }
        if (uri.startsWith("tcp:")) {
            return tcp(uri, uri.substring("tcp:".length()));
        }
        if (uri.startsWith("unix:")) {
            return new MigrationUri.Unix(path(uri, uri.substring("unix:".length()), "unix socket path"));
        }
        if (uri.startsWith("file:")) {
            return file(uri, uri.substring("file:".length()));
        }
        if (uri.startsWith("exec:")) {
            String command = uri.substring("exec:".length());
            if (command.isBlank()) {
                throw new IllegalArgumentException("exec command is empty in '" + uri + "'");
            }
            return new MigrationUri.Exec(command);
        }
        throw new IllegalArgumentException("unknown migration protocol: " + uri);
    }

    private static MigrationUri.Tcp tcp(String uri, String rest) {
        String host;
        String port;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("missing ']' after IPv6 address in '" + uri + "'");
            }
            host = rest.substring(1, close);
            if (host.isEmpty()) {
                throw new IllegalArgumentException("empty IPv6 address in '" + uri + "'");
            }
            if (close + 1 >= rest.length() || rest.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("missing port in '" + uri + "'");
            }
            port = rest.substring(close + 2);
        } else {
            int colon = rest.indexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("missing port in '" + uri + "'");
            }
            host = rest.substring(0, colon);
            port = rest.substring(colon + 1);
            if (port.indexOf(':') >= 0) {
                throw new IllegalArgumentException(
                        "IPv6 address must be in brackets, e.g. tcp:[::1]:4444, in '" + uri + "'");
            }
        }
        int comma = port.indexOf(',');
        if (comma >= 0) {
            throw new IllegalArgumentException(
                    "tcp options are not supported: '" + port.substring(comma) + "' in '" + uri + "'");
        }
        if (port.isEmpty()) {
            throw new IllegalArgumentException("missing port in '" + uri + "'");
        }
        return new MigrationUri.Tcp(host, port(uri, port));
    }

    private static int port(String uri, String text) {
        if (text.length() > 5 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("invalid port '" + text + "' in '" + uri + "'");
        }
        int port = Integer.parseInt(text);
        if (port > 65535) {
            throw new IllegalArgumentException("invalid port '" + text + "' in '" + uri + "' (must be 0..65535)");
        }
        return port;
    }

    private static MigrationUri.File file(String uri, String rest) {
        int comma = rest.lastIndexOf(',');
        if (comma >= 0) {
            String option = rest.substring(comma + 1);
            if (option.startsWith("offset=")) {
                throw new IllegalArgumentException("file option '" + option + "' is not supported in '" + uri
                        + "' (livemig has no mapped-ram offsets)");
            }
            if (FILE_OPTION.matcher(option).matches()) {
                throw new IllegalArgumentException("unknown file option '" + option + "' in '" + uri + "'");
            }
        }
        return new MigrationUri.File(path(uri, rest, "file path"));
    }

    private static Path path(String uri, String text, String what) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException(what + " is empty in '" + uri + "'");
        }
        try {
            return Path.of(text);
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("invalid " + what + " in '" + uri + "': " + e.getReason(), e);
        }
    }
}
