package io.livemig.channel;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;

/**
 * QEMU's {@code tls-creds-x509} object, read from its directory: {@code ca-cert.pem} (the CA
 * that signs the peer), {@code server-cert.pem} and {@code server-key.pem} (the destination's
 * identity, required there), {@code client-cert.pem} and {@code client-key.pem} (the source's
 * identity: optional, as in QEMU, but the destination verifies peers, so an anonymous source is
 * refused there). Certificates are PEM (one or a chain, read by {@link CertificateFactory});
 * private keys must be unencrypted PKCS#8 PEM ({@code BEGIN PRIVATE KEY}); other key formats
 * fail with a message telling how to convert them.
 */
public final class TlsCredentials {

    public static final String CA_CERT = "ca-cert.pem";
    public static final String SERVER_CERT = "server-cert.pem";
    public static final String SERVER_KEY = "server-key.pem";
    public static final String CLIENT_CERT = "client-cert.pem";
    public static final String CLIENT_KEY = "client-key.pem";

    /** QEMU's message when tls-authz refuses the client: "TLS x509 authz check for DN is denied" */
    static final String AUTHZ_DENIED_PREFIX = "TLS x509 authz check for ";

    private static final char[] NO_PASSWORD = new char[0];

    private TlsCredentials() {
    }

    /**
     * The check {@code migrate-set-parameters} does when the side is not known yet: the
     * directory exists and holds {@value #CA_CERT}, which both sides need.
     *
     * @return null if fine, else the problem
     */
    public static String checkDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            return "tls-creds directory '" + dir + "' does not exist or is not a directory";
        }
        if (!Files.isRegularFile(dir.resolve(CA_CERT))) {
            return "tls-creds directory '" + dir + "' has no " + CA_CERT;
        }
        return null;
    }

    /**
     * The destination's context: its own certificate, and a client certificate is required; with
     * {@code authz} (QEMU's {@code tls-authz}), the client certificate's subject DN must also be
     * allowed by it, else the handshake fails with "TLS x509 authz check for DN is denied".
     */
    static SSLContext server(Path dir, AuthzSimple authz) throws IOException {
        require(dir, CA_CERT, "both sides");
        require(dir, SERVER_CERT, "the destination");
        require(dir, SERVER_KEY, "the destination");
        SSLContext ctx = context(dir, SERVER_CERT, SERVER_KEY, authz);
        ctx.getServerSessionContext().setSessionTimeout(NO_TICKETS_SESSION_TIMEOUT_S);
        return ctx;
    }

    /**
     * A server session timeout above TLS 1.3's 7-day ticket lifetime limit (RFC 8446 §4.6.1),
     * for which JSSE sends no NewSessionTicket. A migration never resumes a session, and a
     * ticket is the one record a TLS 1.3 server sends unasked after the handshake: a source
     * that never reads (no return path; every multifd channel) and closes before the ticket
     * arrives gets it on a closed socket and answers with RST, which can destroy the tail of
     * the stream still queued at the destination. {@link TlsMigrationChannel#close()} still
     * drains what has arrived, for peers that do send tickets.
     */
    static final int NO_TICKETS_SESSION_TIMEOUT_S = 604_800 + 1;

    /** The source's context: its certificate if the directory has one (else anonymous). */
    static SSLContext client(Path dir) throws IOException {
        require(dir, CA_CERT, "both sides");
        boolean cert = Files.isRegularFile(dir.resolve(CLIENT_CERT));
        boolean key = Files.isRegularFile(dir.resolve(CLIENT_KEY));
        if (cert != key) {
            require(dir, cert ? CLIENT_KEY : CLIENT_CERT, "the source when " + (cert ? CLIENT_CERT : CLIENT_KEY) + " is present");
        }
        return cert ? context(dir, CLIENT_CERT, CLIENT_KEY, null) : context(dir, null, null, null);
    }

    private static void require(Path dir, String file, String who) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("tls-creds directory '" + dir + "' does not exist or is not a directory");
        }
        if (!Files.isRegularFile(dir.resolve(file))) {
            throw new IOException("tls-creds directory '" + dir + "' has no " + file + " (needed by " + who + ")");
        }
    }

    private static SSLContext context(Path dir, String certFile, String keyFile, AuthzSimple authz) throws IOException {
        try {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            List<X509Certificate> cas = certificates(dir.resolve(CA_CERT));
            for (int i = 0; i < cas.size(); i++) {
                trust.setCertificateEntry("ca" + i, cas.get(i));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(trust);
            KeyManager[] keyManagers = null;
            if (certFile != null) {
                List<X509Certificate> chain = certificates(dir.resolve(certFile));
                PrivateKey key = privateKey(dir.resolve(keyFile));
                KeyStore keys = KeyStore.getInstance("PKCS12");
                keys.load(null, null);
                keys.setKeyEntry("self", key, NO_PASSWORD, chain.toArray(new Certificate[0]));
                KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
                kmf.init(keys, NO_PASSWORD);
                keyManagers = kmf.getKeyManagers();
            }
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            TrustManager[] trustManagers = tmf.getTrustManagers();
            if (authz != null) {
                trustManagers = new TrustManager[] {new AuthzTrustManager(pkix(trustManagers), authz)};
            }
            ctx.init(keyManagers, trustManagers, null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("tls-creds directory '" + dir + "': " + e.getMessage(), e);
        }
    }

    private static X509ExtendedTrustManager pkix(TrustManager[] managers) throws GeneralSecurityException {
        for (TrustManager m : managers) {
            if (m instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new GeneralSecurityException("no X.509 trust manager");
    }

    /**
     * QEMU's {@code qcrypto_tls_session_check_certificate} on the server with an authzid: the
     * chain is verified first (the CA), then the subject DN of the client's certificate is checked
     * against the {@code tls-authz} object. Throwing here fails the handshake with a fatal alert,
     * so the source learns of the refusal as of any other certificate problem.
     */
    private static final class AuthzTrustManager extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager pkix;
        private final AuthzSimple authz;

        AuthzTrustManager(X509ExtendedTrustManager pkix, AuthzSimple authz) {
            this.pkix = pkix;
            this.authz = authz;
        }

        private void authorize(X509Certificate[] chain) throws java.security.cert.CertificateException {
            String dn = AuthzSimple.distinguishedName(chain[0]);
            if (!authz.isAllowed(dn)) {
                throw new java.security.cert.CertificateException(AUTHZ_DENIED_PREFIX + dn + " is denied");
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws java.security.cert.CertificateException {
            pkix.checkClientTrusted(chain, authType, socket);
            authorize(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws java.security.cert.CertificateException {
            pkix.checkClientTrusted(chain, authType, engine);
            authorize(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType)
                throws java.security.cert.CertificateException {
            pkix.checkClientTrusted(chain, authType);
            authorize(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws java.security.cert.CertificateException {
            pkix.checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws java.security.cert.CertificateException {
            pkix.checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType)
                throws java.security.cert.CertificateException {
            pkix.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return pkix.getAcceptedIssuers();
        }
    }

    static List<X509Certificate> certificates(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            List<X509Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in).stream()
                    .map(X509Certificate.class::cast).toList();
            if (certs.isEmpty()) {
                throw new IOException(file + ": no PEM certificate in the file");
            }
            return certs;
        } catch (java.security.cert.CertificateException e) {
            throw new IOException(file + ": not a PEM certificate: " + e.getMessage(), e);
        }
    }

    /** An unencrypted PKCS#8 PEM key (RSA, EC, Ed25519/Ed448 or RSASSA-PSS). */
    static PrivateKey privateKey(Path file) throws IOException {
        String pem = Files.readString(file, StandardCharsets.US_ASCII);
        String begin = "-----BEGIN PRIVATE KEY-----";
        String end = "-----END PRIVATE KEY-----";
        int b = pem.indexOf(begin);
        int e = pem.indexOf(end);
        if (b < 0 || e < b) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----").matcher(pem);
            String found = m.find() ? "'BEGIN " + m.group(1) + "'" : "no PEM block";
            throw new IOException(file + ": expected an unencrypted PKCS#8 PEM key ('BEGIN PRIVATE KEY'), found " + found
                    + "; convert it with: openssl pkcs8 -topk8 -nocrypt -in " + file + " -out " + file + ".pkcs8");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(pem.substring(b + begin.length(), e));
        } catch (IllegalArgumentException x) {
            throw new IOException(file + ": bad base64 in the PEM key: " + x.getMessage(), x);
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String alg : List.of("RSA", "EC", "EdDSA", "RSASSA-PSS", "XDH")) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (InvalidKeySpecException | java.security.NoSuchAlgorithmException ignored) {
                // try the next algorithm
            }
        }
        throw new IOException(file + ": unsupported PKCS#8 key (not RSA, EC, EdDSA or RSASSA-PSS)");
    }
}
