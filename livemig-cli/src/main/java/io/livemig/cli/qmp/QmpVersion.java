package io.livemig.cli.qmp;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The QEMU version livemig speaks for ({@code query-version} and the greeting): QEMU 7.2's QMP and
 * migration stream, with {@code package} naming livemig and its version.
 */
record QmpVersion(int major, int minor, int micro, String pkg) {

    static QmpVersion livemig(String livemigVersion) {
        return new QmpVersion(7, 2, 0, "livemig " + livemigVersion);
    }

    Map<String, Object> toQapi() {
        Map<String, Object> qemu = new LinkedHashMap<>();
        qemu.put("micro", micro);
        qemu.put("minor", minor);
        qemu.put("major", major);
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("qemu", qemu);
        v.put("package", pkg);
        return v;
    }

    String greeting() {
        Map<String, Object> qmp = new LinkedHashMap<>();
        qmp.put("version", toQapi());
        qmp.put("capabilities", List.of("oob"));
        return QmpJson.write(Map.of("QMP", qmp));
    }
}
