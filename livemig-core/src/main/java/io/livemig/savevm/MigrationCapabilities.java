package io.livemig.savevm;

import java.util.EnumSet;
import java.util.Set;

/**
 * The enabled capabilities. Changed only between migrations (checked by the caller); read by
 * the migration threads, so the set is replaced whole and published through a volatile field.
 */
public final class MigrationCapabilities {

    private volatile Set<Capability> enabled = EnumSet.noneOf(Capability.class);

    public boolean has(Capability c) {
        return enabled.contains(c);
    }

    public Set<Capability> enabled() {
        return EnumSet.copyOf(enabled.isEmpty() ? EnumSet.noneOf(Capability.class) : enabled);
    }

    /** Replaces the enabled set; the caller has validated the combination. */
    public void set(Set<Capability> caps) {
        enabled = caps.isEmpty() ? EnumSet.noneOf(Capability.class) : EnumSet.copyOf(caps);
    }
}
