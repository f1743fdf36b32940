package io.livemig.guest;

/** QEMU's run states (QAPI {@code RunState}) that a livemig guest can be in, with their QMP names. */
public enum RunState {
    PRELAUNCH("prelaunch"),
    RUNNING("running"),
    PAUSED("paused"),
    INMIGRATE("inmigrate"),
    POSTMIGRATE("postmigrate"),
    FINISH_MIGRATE("finish-migrate"),
    SHUTDOWN("shutdown");

    private final String qapiName;

    RunState(String qapiName) {
        this.qapiName = qapiName;
    }

    /** The name QMP uses ({@code query-status}'s {@code status}) and the {@code globalstate} section carries. */
    public String qapiName() {
        return qapiName;
    }

    /** Whether vCPUs run in this state ({@code query-status}'s {@code running}). */
    public boolean isRunning() {
        return this == RUNNING;
    }

    /** The state named {@code name}, or {@code null} when no state has that name. */
    public static RunState fromQapi(String name) {
        for (RunState s : values()) {
            if (s.qapiName.equals(name)) {
                return s;
            }
        }
        return null;
    }
}
