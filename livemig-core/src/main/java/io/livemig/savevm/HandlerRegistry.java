package io.livemig.savevm;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The list of registered states, QEMU's {@code savevm_state.handlers}: ordered by priority
 * (highest first), then by registration. Every phase walks it in this order. Section ids come
 * from a counter that also advances for {@link #reserveSectionId()}, so a guest whose shape
 * matches a QEMU machine writes the same section ids QEMU does.
 */
public final class HandlerRegistry {

    private final List<SaveStateEntry> entries = new ArrayList<>();
    private int nextSectionId;

    /** Registers a handler; fails on a duplicate (idstr, instance id), as QEMU does. */
    public synchronized SaveStateEntry register(String idstr, int instanceId, int versionId, int priority,
                                                SaveStateHandler handler) {
        if (idstr.isEmpty() || idstr.getBytes(StandardCharsets.UTF_8).length > 255) {
            throw new IllegalArgumentException("section idstr must be 1..255 bytes, got '" + idstr + "'");
        }
        if (find(idstr, instanceId) != null) {
            throw new IllegalArgumentException("duplicate section " + idstr + " instance " + instanceId);
        }
        SaveStateEntry e = new SaveStateEntry(idstr, instanceId, versionId, priority, nextSectionId++, handler);
        entries.add(e);
        entries.sort(Comparator.comparingInt(SaveStateEntry::priority).reversed());
        return e;
    }

    /** Registers with the default priority and instance 0. */
    public SaveStateEntry register(String idstr, int versionId, SaveStateHandler handler) {
        return register(idstr, 0, versionId, SaveStateEntry.PRIORITY_DEFAULT, handler);
    }

    /** Burns a section id, for a state QEMU registers that this guest does not have. */
    public synchronized int reserveSectionId() {
        return nextSectionId++;
    }

    public synchronized SaveStateEntry find(String idstr, int instanceId) {
        for (SaveStateEntry e : entries) {
            if (e.instanceId() == instanceId && e.idstr().equals(idstr)) {
                return e;
            }
        }
        return null;
    }

    /** A snapshot of the entries in walk order. */
    public synchronized List<SaveStateEntry> entries() {
        return List.copyOf(entries);
    }
}
