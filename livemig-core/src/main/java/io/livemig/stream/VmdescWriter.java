package io.livemig.stream;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The vmdesc JSON written after EOF ({@code u8 0x06 | be32 len | json}), which
 * {@code scripts/analyze-migration.py} needs to parse FULL sections.
 *
 * <p>Shape, with QEMU's spacing so that a livemig stream is byte-identical to QEMU's for the same
 * guest: {@code {"page_size": 4096, "devices": [{"name": "timer", "instance_id": 0,
 * "vmsd_name": "timer", "version": 2, "fields": [{"name": "…", "type": "int64", "size": 8}, …]}, …]}}.
 * One device entry per FULL section, in stream order. The JSON never contains a NUL byte.
 */
public final class VmdescWriter {

    /** One field of a FULL section's payload; {@code size} is the bytes actually written. */
    public record Field(String name, String type, int size) {
    }

    private final StringBuilder devices = new StringBuilder();
    private final int pageSize;
    private int count;

    public VmdescWriter(int pageSize) {
        this.pageSize = pageSize;
    }

    /** Adds a VMState-described FULL section. */
    public void addDevice(String idstr, int instanceId, String vmsdName, int version, List<Field> fields) {
        if (count++ > 0) {
            devices.append(", ");
        }
        devices.append("{\"name\": ").append(quote(idstr))
                .append(", \"instance_id\": ").append(Integer.toUnsignedString(instanceId))
                .append(", \"vmsd_name\": ").append(quote(vmsdName))
                .append(", \"version\": ").append(version)
                .append(", \"fields\": [");
        for (int i = 0; i < fields.size(); i++) {
            Field f = fields.get(i);
            if (i > 0) {
                devices.append(", ");
            }
            devices.append("{\"name\": ").append(quote(f.name()))
                    .append(", \"type\": ").append(quote(f.type()))
                    .append(", \"size\": ").append(f.size()).append('}');
        }
        devices.append("]}");
    }

    /**
     * Adds an old-style ({@code save_state}) FULL section, described as QEMU's
     * {@code vmstate_save_old_style()} does: its size and one {@code data} buffer field.
     */
    public void addOldStyleDevice(String idstr, int instanceId, long size) {
        if (count++ > 0) {
            devices.append(", ");
        }
        devices.append("{\"name\": ").append(quote(idstr))
                .append(", \"instance_id\": ").append(Integer.toUnsignedString(instanceId))
                .append(", \"size\": ").append(size)
                .append(", \"fields\": [{\"name\": \"data\", \"size\": ").append(size)
                .append(", \"type\": \"buffer\"}]}");
    }

    /** The finished JSON text. */
    public String json() {
        return "{\"page_size\": " + pageSize + ", \"devices\": [" + devices + "]}";
    }

    /** Writes {@code u8 0x06 | be32 len | json}. */
    public void writeTo(MigrationOutput out) {
        byte[] b = json().getBytes(StandardCharsets.UTF_8);
        out.putU8(SectionType.VMDESCRIPTION);
        out.putBe32(b.length);
        out.putBytes(b);
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04X", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
