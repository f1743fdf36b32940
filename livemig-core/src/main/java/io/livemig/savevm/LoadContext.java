package io.livemig.savevm;

import java.io.IOException;

/** What a device may ask of the destination's loader while it loads. */
public interface LoadContext {

    /** Whether the destination has {@code c} enabled. */
    boolean has(Capability c);

    /**
     * QEMU's {@code qemu_loadvm_approve_switchover()}: a device that needed the switchover ack has
     * loaded its initial data. When the last such device approves, the loader sends
     * {@code SWITCHOVER_ACK} on the return path. Approving more often than devices needed it is an
     * error.
     */
    void approveSwitchover() throws IOException;
}
