package io.livemig.channel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

@Timeout(10)
class MigrationUriTest {

    static Stream<Arguments> good() {
        return Stream.of(
                arguments("tcp:127.0.0.1:4444", new MigrationUri.Tcp("127.0.0.1", 4444), "tcp:127.0.0.1:4444"),
                arguments("tcp:localhost:4444", new MigrationUri.Tcp("localhost", 4444), "tcp:localhost:4444"),
                arguments("tcp:[::1]:4444", new MigrationUri.Tcp("::1", 4444), "tcp:[::1]:4444"),
                arguments("tcp::4444", new MigrationUri.Tcp("", 4444), "tcp::4444"),
                arguments("tcp:0.0.0.0:0", new MigrationUri.Tcp("0.0.0.0", 0), "tcp:0.0.0.0:0"),
                arguments("tcp:host:65535", new MigrationUri.Tcp("host", 65535), "tcp:host:65535"),
                arguments("tcp:host:04444", new MigrationUri.Tcp("host", 4444), "tcp:host:4444"),
                arguments("unix:/tmp/mig.sock", new MigrationUri.Unix(Path.of("/tmp/mig.sock")), "unix:/tmp/mig.sock"),
                arguments("unix:rel/mig.sock", new MigrationUri.Unix(Path.of("rel/mig.sock")), "unix:rel/mig.sock"),
                arguments("file:/tmp/vm.mig", new MigrationUri.File(Path.of("/tmp/vm.mig")), "file:/tmp/vm.mig"),
                arguments("file:/tmp/a,b", new MigrationUri.File(Path.of("/tmp/a,b")), "file:/tmp/a,b"),
                arguments("file:/tmp/a,b=c/d", new MigrationUri.File(Path.of("/tmp/a,b=c/d")), "file:/tmp/a,b=c/d"),
                arguments("exec:cat > /tmp/x", new MigrationUri.Exec("cat > /tmp/x"), "exec:cat > /tmp/x"),
                arguments("exec:gzip -c | ssh h 'cat > f'", new MigrationUri.Exec("gzip -c | ssh h 'cat > f'"),
                        "exec:gzip -c | ssh h 'cat > f'"),
                arguments("defer", new MigrationUri.Defer(), "defer"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("good")
    void parsesGoodUris(String text, MigrationUri expected, String canonical) {
        MigrationUri uri = MigrationUri.parse(text);
        assertThat(uri).isEqualTo(expected);
        assertThat(uri.toString()).isEqualTo(canonical);
        assertThat(MigrationUri.parse(uri.toString())).isEqualTo(uri);
    }

    static Stream<Arguments> bad() {
        return Stream.of(
                arguments("", "migration URI is empty"),
                arguments("foo:bar", "unknown migration protocol: foo:bar"),
                arguments("TCP:1.2.3.4:5", "unknown migration protocol: TCP:1.2.3.4:5"),
                arguments("fd:3", "unknown migration protocol: fd:3"),
                arguments("deferred", "unknown migration protocol: deferred"),
                arguments("tcp:host", "missing port in 'tcp:host'"),
                arguments("tcp:host:", "missing port in 'tcp:host:'"),
                arguments("tcp:host:abc", "invalid port 'abc' in 'tcp:host:abc'"),
                arguments("tcp:host:-1", "invalid port '-1' in 'tcp:host:-1'"),
                arguments("tcp:host:+80", "invalid port '+80' in 'tcp:host:+80'"),
                arguments("tcp:host:65536", "invalid port '65536' in 'tcp:host:65536' (must be 0..65535)"),
                arguments("tcp:host:99999999999", "invalid port '99999999999' in 'tcp:host:99999999999'"),
                arguments("tcp:::1:4444", "IPv6 address must be in brackets, e.g. tcp:[::1]:4444, in 'tcp:::1:4444'"),
                arguments("tcp:[::1", "missing ']' after IPv6 address in 'tcp:[::1'"),
                arguments("tcp:[::1]4444", "missing port in 'tcp:[::1]4444'"),
                arguments("tcp:[::1]", "missing port in 'tcp:[::1]'"),
                arguments("tcp:[]:4444", "empty IPv6 address in 'tcp:[]:4444'"),
                arguments("tcp:host:4444,ipv4", "tcp options are not supported: ',ipv4' in 'tcp:host:4444,ipv4'"),
                arguments("unix:", "unix socket path is empty in 'unix:'"),
                arguments("file:", "file path is empty in 'file:'"),
                arguments("file:/x,offset=4096",
                        "file option 'offset=4096' is not supported in 'file:/x,offset=4096' (livemig has no mapped-ram offsets)"),
                arguments("file:/x,foo=1", "unknown file option 'foo=1' in 'file:/x,foo=1'"),
                arguments("exec:", "exec command is empty in 'exec:'"),
                arguments("exec:   ", "exec command is empty in 'exec:   '"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bad")
    void rejectsBadUrisNamingTheValue(String text, String message) {
        assertThatThrownBy(() -> MigrationUri.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(message);
    }

    @Test
    void recordsValidateAndStripBrackets() {
        assertThat(new MigrationUri.Tcp("[::1]", 1)).isEqualTo(new MigrationUri.Tcp("::1", 1));
        assertThatThrownBy(() -> new MigrationUri.Tcp("h", 65536)).hasMessage("tcp port must be 0..65535, got 65536");
        assertThatThrownBy(() -> new MigrationUri.Exec(" ")).hasMessage("exec command is empty");
        assertThatThrownBy(() -> new MigrationUri.Unix(Path.of(""))).hasMessage("unix socket path is empty");
    }

    /** parse(toString()) is the identity over random values of every kind. */
    @Test
    void canonicalFormRoundTripsForRandomUris() {
        long seed = Payload.seed();
        Random random = new Random(seed);
        for (int i = 0; i < 2_000; i++) {
            MigrationUri uri = switch (random.nextInt(5)) {
                case 0 -> new MigrationUri.Tcp(randomHost(random), random.nextInt(65536));
                case 1 -> new MigrationUri.Unix(Path.of("/tmp", "s" + random.nextInt(1000) + ".sock"));
                case 2 -> new MigrationUri.File(Path.of("/var/tmp", "m" + Long.toHexString(random.nextLong())));
                case 3 -> new MigrationUri.Exec("cat > /tmp/" + random.nextInt() + " && echo ':,=[]'");
                default -> new MigrationUri.Defer();
            };
            assertThat(MigrationUri.parse(uri.toString())).as("%s (seed %#x)", uri, seed).isEqualTo(uri);
        }
    }

    private static String randomHost(Random random) {
        return switch (random.nextInt(4)) {
            case 0 -> "";
            case 1 -> random.nextInt(256) + "." + random.nextInt(256) + "." + random.nextInt(256) + "." + random.nextInt(256);
            case 2 -> "fe80::" + Integer.toHexString(random.nextInt(0x10000)) + ":" + Integer.toHexString(random.nextInt(0x10000));
            default -> "host-" + random.nextInt(100) + ".example";
        };
    }
}
