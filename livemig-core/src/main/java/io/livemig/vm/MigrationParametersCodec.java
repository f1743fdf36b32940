package io.livemig.vm;

import io.livemig.channel.TlsCredentials;
import io.livemig.savevm.Capability;
import io.livemig.savevm.IterationPolicy;
import io.livemig.savevm.MigrationCapabilities;
import io.livemig.savevm.MigrationParameters;

import java.math.BigInteger;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The QMP edge of {@link MigrationParameters} and {@link MigrationCapabilities}: parses
 * {@code migrate-set-parameters} / {@code migrate-set-capabilities} arguments, validates them all
 * before changing anything, and renders the {@code query-*} answers. Messages are QEMU 7.2's.
 */
final class MigrationParametersCodec {

    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private MigrationParametersCodec() {
    }

    static Map<String, Object> query(MigrationParameters p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("max-bandwidth", p.maxBandwidth());
        m.put("downtime-limit", p.downtimeLimitMs());
        m.put("xbzrle-cache-size", p.xbzrleCacheSize());
        m.put("avail-switchover-bandwidth", p.availSwitchoverBandwidth());
        m.put("multifd-channels", (long) p.multifdChannels());
        m.put("multifd-compression", p.multifdCompression());
        m.put("multifd-zlib-level", (long) p.multifdZlibLevel());
        m.put("multifd-zstd-level", (long) p.multifdZstdLevel());
        m.put("x-iterate-policy", p.iteratePolicy().qapiName());
        m.put("x-stall-timeout", p.stallTimeoutMs());
        m.put("tls-creds", p.tlsCreds());
        m.put("tls-hostname", p.tlsHostname());
        m.put("tls-authz", p.tlsAuthz());
        return m;
    }

    /**
     * Validates every argument, then applies them together; {@code objects} answers whether an
     * {@code authz-simple} object of that id exists, for {@code tls-authz}.
     */
    static void apply(MigrationParameters p, Map<String, Object> args, java.util.function.Predicate<String> authzObjects)
            throws VmCommandException {
        Long maxBandwidth = null;
        Long downtime = null;
        Long avail = null;
        Long cacheSize = null;
        IterationPolicy policy = null;
        Long stall = null;
        Integer channels = null;
        String compression = null;
        Integer zstdLevel = null;
        Integer zlibLevel = null;
        String tlsCreds = null;
        String tlsHostname = null;
        String tlsAuthz = null;
        for (Map.Entry<String, Object> e : args.entrySet()) {
            switch (e.getKey()) {
                case "max-bandwidth" -> maxBandwidth = uint64(e.getKey(), e.getValue());
                case "downtime-limit" -> {
                    long v = uint64(e.getKey(), e.getValue());
                    if (v < 0 || v > MigrationParameters.MAX_DOWNTIME_LIMIT_MS) {
                        throw VmCommandException.generic("Parameter 'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms");
                    }
                    downtime = v;
                }
                case "avail-switchover-bandwidth" -> avail = uint64(e.getKey(), e.getValue());
                case "xbzrle-cache-size" -> {
                    long v = uint64(e.getKey(), e.getValue());
                    // QEMU 7.2 migrate_params_check: a power of two, at least the target page size
                    if (v < io.livemig.guest.PageSize.TARGET_PAGE_SIZE || Long.bitCount(v) != 1) {
                        throw VmCommandException.generic(
                                "Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size");
                    }
                    cacheSize = v;
                }
                case "x-iterate-policy" -> {
                    if (!(e.getValue() instanceof String name)) {
                        throw VmCommandException.generic("Invalid parameter type for 'x-iterate-policy', expected: string");
                    }
                    policy = IterationPolicy.fromQapi(name);
                    if (policy == null) {
                        throw VmCommandException.generic("Parameter 'x-iterate-policy' does not accept value '" + name
                                + "' (serial, all or fair)");
                    }
                }
                case "multifd-channels" -> {
                    long v = uint64(e.getKey(), e.getValue());
                    if (v < 1 || v > 255) {
                        throw VmCommandException.generic("Parameter 'multifd_channels' expects a value between 1 and 255");
                    }
                    channels = (int) v;
                }
                case "multifd-zstd-level" -> {
                    long v = uint64(e.getKey(), e.getValue());
                    if (v < 0 || v > 20) {
                        throw VmCommandException.generic("Parameter 'multifd_zstd_level' expects a value between 0 and 20");
                    }
                    zstdLevel = (int) v;
                }
                case "multifd-zlib-level" -> {
                    long v = uint64(e.getKey(), e.getValue());
                    if (v < 0 || v > 9) {
                        throw VmCommandException.generic("Parameter 'multifd_zlib_level' expects a value between 0 and 9");
                    }
                    zlibLevel = (int) v;
                }
                case "multifd-compression" -> {
                    if (!(e.getValue() instanceof String name)) {
                        throw VmCommandException.generic("Invalid parameter type for 'multifd-compression', expected: string");
                    }
                    if (!name.equals("none") && !name.equals("zlib") && !name.equals("zstd")) {
                        throw VmCommandException.generic("Parameter 'multifd-compression' does not accept value '" + name
                                + "'" + (name.equals("qpl") || name.equals("uadk") || name.equals("qatzip")
                                ? " (livemig implements none, zlib and zstd)" : ""));
                    }
                    compression = name;
                }
                case "x-stall-timeout" -> {
                    long v = uint64(e.getKey(), e.getValue());
                    if (v != 0 && (v < MigrationParameters.MIN_STALL_TIMEOUT_MS || v > MigrationParameters.MAX_STALL_TIMEOUT_MS)) {
                        throw VmCommandException.generic("Parameter 'x-stall-timeout' must be 0 (off) or "
                                + MigrationParameters.MIN_STALL_TIMEOUT_MS + ".." + MigrationParameters.MAX_STALL_TIMEOUT_MS
                                + " ms, got " + Long.toUnsignedString(v));
                    }
                    stall = v;
                }
                case "tls-creds" -> {
                    if (!(e.getValue() instanceof String dir)) {
                        throw VmCommandException.generic("Invalid parameter type for 'tls-creds', expected: string");
                    }
                    // QEMU: an empty string turns TLS off; the side-specific files are checked on connect
                    String problem = dir.isEmpty() ? null : TlsCredentials.checkDirectory(Path.of(dir));
                    if (problem != null) {
                        throw VmCommandException.generic("Parameter 'tls-creds': " + problem);
                    }
                    tlsCreds = dir;
                }
                case "tls-hostname" -> {
                    if (!(e.getValue() instanceof String name)) {
                        throw VmCommandException.generic("Invalid parameter type for 'tls-hostname', expected: string");
                    }
                    tlsHostname = name;
                }
                case "tls-authz" -> {
                    if (!(e.getValue() instanceof String id)) {
                        throw VmCommandException.generic("Invalid parameter type for 'tls-authz', expected: string");
                    }
                    // QEMU resolves the id only when a client connects; checking here too names a
                    // typo at once (it is checked again on connect: the object may be deleted)
                    if (!id.isEmpty() && !authzObjects.test(id)) {
                        throw VmCommandException.generic("Parameter 'tls-authz': Cannot find QAuthZ object ID " + id
                                + " (create it first with -object or object-add authz-simple,id=" + id + ",identity=DN)");
                    }
                    tlsAuthz = id;
                }
                default -> throw VmCommandException.generic("Parameter '" + e.getKey() + "' is unexpected");
            }
        }
        if (maxBandwidth != null) {
            p.maxBandwidth(maxBandwidth);
        }
        if (downtime != null) {
            p.downtimeLimitMs(downtime);
        }
        if (cacheSize != null) {
            p.xbzrleCacheSize(cacheSize);
        }
        if (avail != null) {
            p.availSwitchoverBandwidth(avail);
        }
        if (policy != null) {
            p.iteratePolicy(policy);
        }
        if (channels != null) {
            p.multifdChannels(channels);
        }
        if (compression != null) {
            p.multifdCompression(compression);
        }
        if (zstdLevel != null) {
            p.multifdZstdLevel(zstdLevel);
        }
        if (zlibLevel != null) {
            p.multifdZlibLevel(zlibLevel);
        }
        if (stall != null) {
            p.stallTimeoutMs(stall);
        }
        if (tlsCreds != null) {
            p.tlsCreds(tlsCreds);
        }
        if (tlsHostname != null) {
            p.tlsHostname(tlsHostname);
        }
        if (tlsAuthz != null) {
            p.tlsAuthz(tlsAuthz);
        }
    }

    /**
     * A JSON uint64 as QEMU reads it: an integer (negative ones wrap, as in QEMU); values above
     * {@code Long.MAX_VALUE} saturate, which for byte rates means "more than any link".
     */
    private static long uint64(String name, Object v) throws VmCommandException {
        BigInteger b;
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            b = BigInteger.valueOf(((Number) v).longValue());
        } else if (v instanceof BigInteger bi) {
            b = bi;
        } else {
            throw VmCommandException.generic("Parameter '" + name + "' expects uint64");
        }
        if (b.signum() < 0) {
            b = b.and(UINT64_MAX);
        }
        if (b.compareTo(UINT64_MAX) > 0) {
            throw VmCommandException.generic("Parameter '" + name + "' expects uint64");
        }
        return b.bitLength() > 63 ? Long.MAX_VALUE : b.longValue();
    }

    static List<Map<String, Object>> queryCapabilities(MigrationCapabilities caps) {
        return java.util.Arrays.stream(Capability.values())
                .map(c -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("capability", c.qapiName());
                    m.put("state", caps.has(c));
                    return m;
                })
                .toList();
    }

    /** Validates the whole list, then returns the new enabled set (the old set changed by the list). */
    static Set<Capability> parseCapabilities(Set<Capability> current, Object list) throws VmCommandException {
        if (!(list instanceof List<?> items)) {
            throw VmCommandException.generic("Invalid parameter type for 'capabilities', expected: array");
        }
        Set<Capability> next = current.isEmpty() ? EnumSet.noneOf(Capability.class) : EnumSet.copyOf(current);
        for (int i = 0; i < items.size(); i++) {
            String where = "capabilities[" + i + "]";
            if (!(items.get(i) instanceof Map<?, ?> item)) {
                throw VmCommandException.generic("Invalid parameter type for '" + where + "', expected: object");
            }
            for (Object k : item.keySet()) {
                if (!"capability".equals(k) && !"state".equals(k)) {
                    throw VmCommandException.generic("Parameter '" + where + "." + k + "' is unexpected");
                }
            }
            Object name = item.get("capability");
            if (name == null) {
                throw VmCommandException.generic("Parameter '" + where + ".capability' is missing");
            }
            if (!(name instanceof String s)) {
                throw VmCommandException.generic("Invalid parameter type for '" + where + ".capability', expected: string");
            }
            Capability c = Capability.fromQapi(s);
            if (c == null) {
                throw VmCommandException.generic("Parameter 'capability' does not accept value '" + s + "'");
            }
            Object state = item.get("state");
            if (state == null) {
                throw VmCommandException.generic("Parameter '" + where + ".state' is missing");
            }
            if (!(state instanceof Boolean on)) {
                throw VmCommandException.generic("Invalid parameter type for '" + where + ".state', expected: boolean");
            }
            if (on) {
                next.add(c);
            } else {
                next.remove(c);
            }
        }
        if (next.contains(Capability.SWITCHOVER_ACK) && !next.contains(Capability.RETURN_PATH)) {
            throw VmCommandException.generic("Capability 'switchover-ack' requires capability 'return-path'");
        }
        if (next.contains(Capability.MULTIFD) && next.contains(Capability.XBZRLE)) {
            // QEMU's migrate_caps_check
            throw VmCommandException.generic("Multifd is not compatible with xbzrle");
        }
        return next;
    }
}
