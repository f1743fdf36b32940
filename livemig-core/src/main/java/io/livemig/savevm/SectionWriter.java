package io.livemig.savevm;

import io.livemig.stream.MigrationOutput;
import io.livemig.stream.SectionFooterDescriptor;
import io.livemig.stream.SectionHeaderDescriptor;
import io.livemig.stream.SectionType;
import io.livemig.stream.VmdescWriter;

import java.io.IOException;

/**
 * Frames a device's payload as a section: header, the handler's bytes, footer. The footer is
 * written on every path, errors included, as QEMU does, so the destination can tell a truncated
 * payload from a complete one.
 */
public final class SectionWriter {

    private final java.util.Map<SaveStateEntry, DeviceCounters> counters;

    /** @param counters the per-device counters to charge each section's bytes to (iterative devices) */
    public SectionWriter(java.util.Map<SaveStateEntry, DeviceCounters> counters) {
        this.counters = counters;
    }

    public SectionWriter() {
        this(java.util.Map.of());
    }

    private void charge(SaveStateEntry e, long bytes, boolean iteration, int result) {
        DeviceCounters c = counters.get(e);
        if (c != null) {
            c.transferred += bytes;
            if (iteration) {
                c.iterations++;
                c.finished = result == SaveStateHandler.ITERATE_FINISHED;
            }
        }
    }

    /** START section with the device's setup payload. */
    public void start(SaveStateEntry e, MigrationOutput out) throws MigrationException {
        long before = out.transferred();
        SectionHeaderDescriptor.writeFull(out, SectionType.SECTION_START, e.sectionId(), e.idstr(), e.instanceId(), e.versionId());
        try {
            e.handler().saveSetup(out);
        } finally {
            SectionFooterDescriptor.write(out, e.sectionId());
            charge(e, out.transferred() - before, false, 0);
        }
    }

    /** PART section with one iterate payload; returns the handler's result. A negative result sets the stream error. */
    public int part(SaveStateEntry e, MigrationOutput out, RateLimit limit) {
        long before = out.transferred();
        SectionHeaderDescriptor.writeShort(out, SectionType.SECTION_PART, e.sectionId());
        int r = e.handler().saveIterate(out, limit);
        SectionFooterDescriptor.write(out, e.sectionId());
        charge(e, out.transferred() - before, true, r);
        if (r < 0) {
            out.setError(new IOException("device " + e + " failed to iterate (" + r + ")"));
        }
        return r;
    }

    /** END section with the device's final payload (guest stopped). */
    public void end(SaveStateEntry e, MigrationOutput out) throws MigrationException {
        long before = out.transferred();
        SectionHeaderDescriptor.writeShort(out, SectionType.SECTION_END, e.sectionId());
        try {
            e.handler().saveComplete(out);
        } finally {
            SectionFooterDescriptor.write(out, e.sectionId());
            charge(e, out.transferred() - before, false, 0);
        }
    }

    /** FULL section with the device's non-iterable state, described in {@code vmdesc}. */
    public void full(SaveStateEntry e, MigrationOutput out, VmdescWriter vmdesc) throws MigrationException {
        SectionHeaderDescriptor.writeFull(out, SectionType.SECTION_FULL, e.sectionId(), e.idstr(), e.instanceId(), e.versionId());
        long before = out.transferred();
        try {
            e.handler().saveState(out);
        } finally {
            SectionFooterDescriptor.write(out, e.sectionId());
        }
        long written = out.transferred() - before - SectionFooterDescriptor.LENGTH;
        if (e.handler().vmsdName().isEmpty()) {
            vmdesc.addOldStyleDevice(e.idstr(), e.instanceId(), written);
            return;
        }
        int described = e.handler().vmdescFields().stream().mapToInt(VmdescWriter.Field::size).sum();
        if (written != described && !out.hasError()) {
            // after a write error every put is a no-op: the count means nothing, the error is reported
            throw new MigrationException("device " + e + " wrote " + written + " bytes but describes " + described);
        }
        vmdesc.addDevice(e.idstr(), e.instanceId(), e.handler().vmsdName(), e.versionId(), e.handler().vmdescFields());
    }
}
