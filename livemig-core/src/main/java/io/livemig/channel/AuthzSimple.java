package io.livemig.channel;

import javax.security.auth.x500.X500Principal;
import java.security.cert.X509Certificate;

/**
 * QEMU's {@code authz-simple} object (authz/simple.c): one identity, allowed when a client's
 * identity equals it exactly. For TLS the identity is the client certificate's subject
 * distinguished name in RFC 4514 order, most specific first, as QEMU gets it from GnuTLS
 * ({@code gnutls_x509_crt_get_dn3}), e.g. {@code CN=laptop.example.com,O=Example Org,L=London,ST=London,C=GB};
 * see {@link #distinguishedName}.
 *
 * <p>Named by the migration parameter {@code tls-authz} (its {@code id}); the destination checks
 * every incoming TLS connection, main and multifd, against it.
 */
public record AuthzSimple(String id, String identity) {

    /** QEMU's qom-type. */
    public static final String QOM_TYPE = "authz-simple";

    public AuthzSimple {
        if (id == null || id.isEmpty() || identity == null) {
            throw new IllegalArgumentException("authz-simple needs an id and an identity");
        }
    }

    /** QEMU's {@code qauthz_simple_is_allowed}: an exact match. */
    public boolean isAllowed(String peer) {
        return identity.equals(peer);
    }

    /**
     * The subject DN the way QEMU's {@code tls-authz} sees it: RFC 2253/4514 string form, RDNs
     * from the most specific ({@code CN}) to the least ({@code C}), attribute types by their short
     * names, special characters escaped with a backslash.
     */
    public static String distinguishedName(X509Certificate cert) {
        return cert.getSubjectX500Principal().getName(X500Principal.RFC2253);
    }
}
