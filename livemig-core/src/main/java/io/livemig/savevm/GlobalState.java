package io.livemig.savevm;

import io.livemig.guest.RunState;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.StreamException;
import io.livemig.stream.VmdescWriter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The {@code globalstate} section (QEMU's migration/global_state.c): the source's run state at
 * the moment it stopped for switchover, so that the destination starts running only if the
 * source was running.
 *
 * <pre>
 *  FULL "globalstate" v1:  be32 size | u8 runstate[100]
 *  size = strlen(runstate) + 1; runstate is NUL-padded
 * </pre>
 */
public final class GlobalState implements SaveStateHandler {

    public static final String IDSTR = "globalstate";
    public static final int VERSION = 1;
    public static final int RUNSTATE_BUFFER = 100;

    private volatile RunState stored = RunState.PRELAUNCH;
    private volatile RunState received;

    /** Records the run state to migrate (QEMU's {@code global_state_store}), called as the source stops. */
    public void store(RunState state) {
        stored = state;
    }

    /** The run state the source sent, or {@code null} when no globalstate section arrived. */
    public RunState received() {
        return received;
    }

    public void resetReceived() {
        received = null;
    }

    @Override
    public boolean isIterative() {
        return false;
    }

    @Override
    public boolean hasState() {
        return true;
    }

    @Override
    public void saveState(MigrationOutput out) {
        byte[] name = stored.qapiName().getBytes(StandardCharsets.US_ASCII);
        byte[] buf = new byte[RUNSTATE_BUFFER];
        System.arraycopy(name, 0, buf, 0, name.length);
        out.putBe32(name.length + 1);
        out.putBytes(buf);
    }

    @Override
    public String vmsdName() {
        return IDSTR;
    }

    @Override
    public List<VmdescWriter.Field> vmdescFields() {
        return List.of(new VmdescWriter.Field("size", "uint32", 4),
                new VmdescWriter.Field("runstate", "buffer", RUNSTATE_BUFFER));
    }

    @Override
    public void loadState(MigrationInput in, int versionId, int sectionType) throws IOException {
        in.getBe32(); // size: QEMU ignores it and reads up to the first NUL
        byte[] buf = new byte[RUNSTATE_BUFFER];
        in.getBytes(buf);
        int len = 0;
        while (len < RUNSTATE_BUFFER - 1 && buf[len] != 0) {
            len++;
        }
        String name = new String(buf, 0, len, StandardCharsets.US_ASCII);
        RunState s = RunState.fromQapi(name);
        if (s == null) {
            throw new StreamException("globalstate: unknown received run state '" + name + "'");
        }
        received = s;
    }
}
