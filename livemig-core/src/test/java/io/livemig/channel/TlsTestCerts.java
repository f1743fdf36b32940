package io.livemig.channel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Test credentials made with the openssl command line (a test that needs them fails, not skips,
 * without it): two CAs, each with a server certificate for {@code localhost} and 127.0.0.1 and a
 * client certificate; keys are EC P-256 in PKCS#8 PEM, as QEMU's tls-creds-x509 directories hold.
 */
public final class TlsTestCerts {

    /** The destination's directory (CA 1, server pair). */
    public final Path dst;
    /** The source's directory (CA 1, client pair). */
    public final Path src;
    /** A source whose CA and client certificate come from another CA (CA 2). */
    public final Path srcOtherCa;
    /** A source with a client certificate from CA 1 but another subject: {@code CN=intruder,O=elsewhere}. */
    public final Path srcOtherName;
    /** The subject DN of {@link #src}'s client certificate, as tls-authz sees it. */
    public static final String SRC_DN = "CN=livemig-source,O=livemig test";
    /** The subject DN of {@link #srcOtherName}'s client certificate. */
    public static final String OTHER_DN = "CN=intruder,O=elsewhere";
    /** A source with only the CA: an anonymous client. */
    public final Path srcAnonymous;
    /** Work files: CA keys, CSRs. */
    public final Path work;

    private TlsTestCerts(Path root) {
        this.dst = root.resolve("dst");
        this.src = root.resolve("src");
        this.srcOtherCa = root.resolve("src-other-ca");
        this.srcAnonymous = root.resolve("src-anon");
        this.srcOtherName = root.resolve("src-other-name");
        this.work = root.resolve("work");
    }

    private static TlsTestCerts shared;

    /**
     * One set for the whole test JVM, generated on first use in a temporary directory that is
     * removed at exit (openssl takes a while; the tests only read the files).
     */
    public static synchronized TlsTestCerts shared() {
        if (shared == null) {
            try {
                Path root = java.nio.file.Files.createTempDirectory("livemig-tls-test-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(root)));
                shared = generate(root);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted generating test certificates", e);
            }
        }
        return shared;
    }

    private static void deleteTree(Path root) {
        try (var paths = java.nio.file.Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | RuntimeException e) {
            // best effort at exit
        }
    }

    public static TlsTestCerts generate(Path root) throws IOException, InterruptedException {
        TlsTestCerts c = new TlsTestCerts(root);
        for (Path d : List.of(c.dst, c.src, c.srcOtherCa, c.srcAnonymous, c.srcOtherName, c.work)) {
            Files.createDirectories(d);
        }
        Path w = c.work;
        for (String ca : List.of("ca1", "ca2")) {
            openssl(w, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", ca + "-key.pem", "-out", ca + "-cert.pem", "-days", "2", "-subj", "/CN=livemig test " + ca);
        }
        Files.writeString(w.resolve("server.ext"), """
                basicConstraints=CA:FALSE
                keyUsage=critical,digitalSignature,keyEncipherment
                extendedKeyUsage=serverAuth
                subjectAltName=DNS:localhost,IP:127.0.0.1
                """);
        Files.writeString(w.resolve("client.ext"), """
                basicConstraints=CA:FALSE
                keyUsage=critical,digitalSignature,keyEncipherment
                extendedKeyUsage=clientAuth
                """);
        issue(w, "ca1", "server", "/CN=localhost", c.dst, "server");
        issue(w, "ca1", "client", "/O=livemig test/CN=livemig-source", c.src, "client");
        issue(w, "ca2", "client", "/O=livemig test/CN=livemig-source", c.srcOtherCa, "client");
        issue(w, "ca1", "client2", "/O=elsewhere/CN=intruder", c.srcOtherName, "client");
        Files.copy(w.resolve("ca1-cert.pem"), c.dst.resolve(TlsCredentials.CA_CERT));
        Files.copy(w.resolve("ca1-cert.pem"), c.src.resolve(TlsCredentials.CA_CERT));
        Files.copy(w.resolve("ca1-cert.pem"), c.srcAnonymous.resolve(TlsCredentials.CA_CERT));
        Files.copy(w.resolve("ca1-cert.pem"), c.srcOtherName.resolve(TlsCredentials.CA_CERT));
        Files.copy(w.resolve("ca2-cert.pem"), c.srcOtherCa.resolve(TlsCredentials.CA_CERT));
        return c;
    }

    /** {@code subject} in openssl's {@code -subj} form, e.g. {@code /O=org/CN=name}. */
    private static void issue(Path w, String ca, String kind, String subject, Path into, String prefix)
            throws IOException, InterruptedException {
        String name = ca + "-" + kind;
        openssl(w, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + "-key.pem");
        openssl(w, "req", "-new", "-key", name + "-key.pem", "-subj", subject, "-out", name + ".csr");
        openssl(w, "x509", "-req", "-in", name + ".csr", "-CA", ca + "-cert.pem", "-CAkey", ca + "-key.pem",
                "-CAcreateserial", "-days", "2", "-extfile", kind.replaceAll("[0-9]+$", "") + ".ext", "-out", name + "-cert.pem");
        Files.copy(w.resolve(name + "-cert.pem"), into.resolve(prefix + "-cert.pem"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(w.resolve(name + "-key.pem"), into.resolve(prefix + "-key.pem"), StandardCopyOption.REPLACE_EXISTING);
    }

    /** Runs {@code openssl ARGS} in {@code dir}; fails on a missing binary, an exit code or 30 s. */
    public static void openssl(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("the TLS tests need the openssl command: " + e.getMessage(), e);
        }
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("openssl timed out: " + cmd);
        }
        if (p.exitValue() != 0) {
            throw new AssertionError("openssl failed (" + p.exitValue() + "): " + cmd + "\n" + new String(out));
        }
    }
}
