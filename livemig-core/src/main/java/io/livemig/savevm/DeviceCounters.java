package io.livemig.savevm;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per-device figures of one migration ({@code query-migrate}'s {@code x-devices}), counted from
 * the stream as each section is written: bytes are the section's bytes on the wire, header and
 * footer included. One writer (the migration thread); QMP reads the volatile fields.
 */
public final class DeviceCounters {

    private final SaveStateEntry entry;
    volatile long iterations;
    volatile long transferred;
    volatile long pending;
    volatile boolean finished;

    DeviceCounters(SaveStateEntry entry) {
        this.entry = entry;
    }

    public SaveStateEntry entry() {
        return entry;
    }

    /** PART sections written for this device. */
    public long iterations() {
        return iterations;
    }

    public long transferred() {
        return transferred;
    }

    public long pending() {
        return pending;
    }

    public boolean finished() {
        return finished;
    }

    /** The {@code x-devices} element. */
    public Map<String, Object> toQmp() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("idstr", entry.idstr());
        m.put("instance-id", (long) entry.instanceId());
        m.put("iterations", iterations);
        m.put("transferred", transferred);
        m.put("pending", pending);
        m.put("finished", finished);
        return m;
    }
}
