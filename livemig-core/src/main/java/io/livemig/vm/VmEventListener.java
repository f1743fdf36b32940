package io.livemig.vm;

import java.util.Map;

/**
 * Receives the QMP events a guest emits ({@code STOP}, {@code RESUME}, {@code MIGRATION},
 * {@code MIGRATION_PASS}, {@code SHUTDOWN}). {@code data} is the event's JSON {@code data} object
 * (possibly empty), built from maps, lists, strings, numbers and booleans. Called on the thread that
 * caused the event; implementations must not block.
 */
@FunctionalInterface
public interface VmEventListener {
    void onEvent(String event, Map<String, Object> data);
}
