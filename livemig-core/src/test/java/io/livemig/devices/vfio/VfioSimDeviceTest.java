package io.livemig.devices.vfio;

import io.livemig.savevm.Capability;
import io.livemig.savevm.LoadContext;
import io.livemig.savevm.RateLimit;
import io.livemig.savevm.SaveStateHandler;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.MigrationOutput;
import io.livemig.stream.SectionType;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import static io.livemig.devices.vfio.VfioStreamDescriptor.DATA_BUFFER_SIZE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The vfio-sim payloads byte for byte, the loader against them, and the pending figures. */
class VfioSimDeviceTest {

    private static final String SETUP = "ffffffffef100003";
    private static final String END = "ffffffffef100001";
    private static final String DATA = "ffffffffef100004";
    private static final String INIT_SENT = "ffffffffef100005";
    private static final String CONFIG = "ffffffffef100002";

    private final AtomicLong clock = new AtomicLong();

    private VfioSimDevice device(String props, boolean sourceAck) {
        java.util.Map<String, String> m = new java.util.HashMap<>();
        for (String kv : props.isEmpty() ? new String[0] : props.split(",")) {
            m.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        }
        return new VfioSimDevice("vf0", VfioSimProperties.parse("vf0", m), clock::get, () -> sourceAck);
    }

    static byte[] write(Consumer<MigrationOutput> w) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationOutput out = new MigrationOutput(Channels.newChannel(bytes), 8192);
        w.accept(out);
        out.flush();
        assertThat(out.hasError()).as("stream error").isFalse();
        return bytes.toByteArray();
    }

    static MigrationInput input(byte[] b) {
        return new MigrationInput(Channels.newChannel(new ByteArrayInputStream(b)), 8192);
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    /** The content oracle: word i of the data stream is the i-th SplittableRandom(seed).nextLong(), little-endian. */
    static String content(long seed, int len) {
        ByteBuffer b = ByteBuffer.allocate((len + 7) & ~7).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom r = new SplittableRandom(seed);
        while (b.hasRemaining()) {
            b.putLong(r.nextLong());
        }
        return hex(b.array()).substring(0, 2 * len);
    }

    static String be64(long v) {
        return String.format("%016x", v);
    }

    /** A fake destination loader: the capabilities it has and the approvals it got. */
    static final class Ctx implements LoadContext {
        final Set<Capability> caps;
        int approvals;

        Ctx(Capability... caps) {
            this.caps = Set.of(caps);
        }

        @Override
        public boolean has(Capability c) {
            return caps.contains(c);
        }

        @Override
        public void approveSwitchover() {
            approvals++;
        }
    }

    @Test
    void startIsSetupStateThenEndOfState() {
        VfioSimDevice d = device("", false);
        assertThat(hex(write(d::saveSetup))).isEqualTo(SETUP + END);
        assertThat(d.state()).isEqualTo(VfioSimDevice.MigState.PRE_COPY);
        assertThat(d.isActiveIterate()).isTrue();
    }

    @Test
    void partCarriesAtMostOneBufferThenEndOfState() {
        VfioSimDevice d = device("initial-bytes=16,seed=7", false);
        write(d::saveSetup);
        int[] r = new int[1];
        byte[] part = write(o -> r[0] = d.saveIterate(o, RateLimit.UNLIMITED));
        assertThat(hex(part)).isEqualTo(DATA + be64(16) + content(7, 16) + END);
        // golden literal for seed 7, so a change of the generator is visible here too
        assertThat(content(7, 16)).isEqualTo(hex(write(o -> {
            byte[] b = new byte[16];
            new VfioDataContent(7).fill(b, 0, 16, 0);
            o.putBytes(b);
        })));
        assertThat(r[0]).isEqualTo(SaveStateHandler.ITERATE_FINISHED);

        VfioSimDevice big = device("initial-bytes=1M,seed=7", false);
        write(big::saveSetup);
        clock.set(0);
        byte[] first = write(o -> r[0] = big.saveIterate(o, RateLimit.UNLIMITED));
        assertThat(first.length).isEqualTo(16 + DATA_BUFFER_SIZE + 8);
        assertThat(r[0]).isEqualTo(SaveStateHandler.ITERATE_FINISHED);
    }

    @Test
    void partEndsWithInitDataSentOnceUnderSwitchoverAck() {
        VfioSimDevice d = device("initial-bytes=24,dirty-rate=8,seed=3", true);
        write(d::saveSetup);
        int[] r = new int[1];
        assertThat(hex(write(o -> r[0] = d.saveIterate(o, RateLimit.UNLIMITED))))
                .isEqualTo(DATA + be64(24) + content(3, 24) + INIT_SENT);
        assertThat(r[0]).isEqualTo(SaveStateHandler.ITERATE_FINISHED);
        clock.set(1_000_000_000L); // one second of guest time: 8 dirty bytes
        assertThat(hex(write(o -> r[0] = d.saveIterate(o, RateLimit.UNLIMITED))))
                .isEqualTo(DATA + be64(8) + content(3, 32).substring(48) + END);
        assertThat(hex(write(o -> r[0] = d.saveIterate(o, RateLimit.UNLIMITED)))).isEqualTo(END);
    }

    @Test
    void initDataSentNeedsTheSourcesSwitchoverAckAndIsSentEvenForEmptyInitialData() {
        VfioSimDevice d = device("initial-bytes=0", true);
        write(d::saveSetup);
        assertThat(hex(write(o -> d.saveIterate(o, RateLimit.UNLIMITED)))).isEqualTo(INIT_SENT);
        VfioSimDevice off = device("initial-bytes=0", false);
        write(off::saveSetup);
        assertThat(hex(write(o -> off.saveIterate(o, RateLimit.UNLIMITED)))).isEqualTo(END);
    }

    @Test
    void endMovesEverythingOwedInChunksOfAtMostOneMiB() {
        VfioSimDevice d = device("initial-bytes=16,stop-copy-bytes=8,seed=5", false);
        write(d::saveSetup);
        assertThat(hex(write(d::saveComplete))).isEqualTo(DATA + be64(24) + content(5, 24) + END);
        assertThat(d.state()).isEqualTo(VfioSimDevice.MigState.STOP_COPY);
        d.saveCleanup();
        assertThat(d.state()).isEqualTo(VfioSimDevice.MigState.STOP);

        VfioSimDevice big = device("initial-bytes=0,stop-copy-bytes=1048581,seed=5", false);
        write(big::saveSetup);
        byte[] end = write(big::saveComplete);
        ByteBuffer b = ByteBuffer.wrap(end);
        assertThat(b.getLong()).isEqualTo(VfioStreamDescriptor.DEV_DATA_STATE);
        assertThat(b.getLong()).isEqualTo(DATA_BUFFER_SIZE);
        b.position(b.position() + DATA_BUFFER_SIZE);
        assertThat(b.getLong()).isEqualTo(VfioStreamDescriptor.DEV_DATA_STATE);
        assertThat(b.getLong()).isEqualTo(5);
        b.position(b.position() + 5);
        assertThat(b.getLong()).isEqualTo(VfioStreamDescriptor.END_OF_STATE);
        assertThat(b.hasRemaining()).isFalse();
        assertThat(big.bytesProduced()).isEqualTo(DATA_BUFFER_SIZE + 5L);
    }

    @Test
    void fullIsConfigStateBlobEndOfState() {
        VfioSimDevice d = device("seed=9", false);
        byte[] full = write(d::saveState);
        assertThat(full.length).isEqualTo(VfioStreamDescriptor.fullPayloadLength());
        assertThat(hex(full)).isEqualTo(CONFIG + content(~9L, 256) + END);
        assertThat(d.vmsdName()).isEmpty();
    }

    @Test
    void precopyOffNeverIteratesNeedsNoAckAndOwesEverythingAtStopCopy() {
        VfioSimDevice d = device("precopy=off,initial-bytes=4M,stop-copy-bytes=2M,dirty-rate=1M", false);
        write(d::saveSetup);
        assertThat(d.isActiveIterate()).isFalse();
        assertThat(d.switchoverAckNeeded()).isFalse();
        clock.set(500_000_000L);
        assertThat(d.pendingEstimate(0)).isZero();
        assertThat(d.pendingExact(0)).isEqualTo((4L << 20) + (2L << 20) + (1L << 19));
    }

    @Test
    void pendingEstimateIsInitPlusDirtyAndExactAddsTheStopCopySize() {
        VfioSimDevice d = device("initial-bytes=4M,stop-copy-bytes=2M,dirty-rate=1M", false);
        assertThat(d.pendingExact(0)).as("before setup").isZero();
        clock.set(10_000_000_000L);
        write(d::saveSetup);
        assertThat(d.pendingEstimate(0)).isEqualTo(4L << 20);
        assertThat(d.pendingExact(0)).isEqualTo(6L << 20);
        clock.addAndGet(500_000_000L); // half a second of guest time
        assertThat(d.pendingEstimate(0)).isEqualTo((4L << 20) + (1L << 19));
        write(o -> d.saveIterate(o, RateLimit.UNLIMITED));
        assertThat(d.pendingEstimate(0)).isEqualTo((3L << 20) + (1L << 19));
        assertThat(d.pendingExact(0)).isEqualTo((5L << 20) + (1L << 19));
        write(d::saveComplete);
        assertThat(d.pendingEstimate(0)).isZero();
        assertThat(d.pendingExact(0)).isZero();
        assertThat(d.bytesProduced()).isEqualTo((6L << 20) + (1L << 19));
    }

    @Test
    void roundTripLoadsEveryByteAndTheDigestsMatch() throws IOException {
        long seed = new SplittableRandom().nextLong();
        String props = "initial-bytes=3145735,dirty-rate=3M,stop-copy-bytes=1572864,seed=" + seed;
        VfioSimDevice src = device(props, true);
        VfioSimDevice dst = device(props, false);
        List<byte[]> sections = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        sections.add(write(src::saveSetup));
        types.add(SectionType.SECTION_START);
        int[] r = {SaveStateHandler.ITERATE_MORE};
        for (int i = 0; i < 6; i++) {
            clock.addAndGet(250_000_000L);
            sections.add(write(o -> r[0] = src.saveIterate(o, RateLimit.UNLIMITED)));
            types.add(SectionType.SECTION_PART);
        }
        sections.add(write(src::saveComplete));
        types.add(SectionType.SECTION_END);
        sections.add(write(src::saveState));
        types.add(SectionType.SECTION_FULL);

        Ctx ctx = new Ctx(Capability.RETURN_PATH, Capability.SWITCHOVER_ACK);
        dst.loadSetup(ctx);
        assertThat(dst.switchoverAckNeeded()).isTrue();
        for (int i = 0; i < sections.size(); i++) {
            MigrationInput in = input(sections.get(i));
            dst.loadState(in, 1, types.get(i));
            assertThat(in.peekU8()).as("section %d consumed exactly (seed %d)", i, seed).isEqualTo(-1);
        }
        assertThat(ctx.approvals).as("seed %d", seed).isEqualTo(1);
        assertThat(dst.bytesLoaded()).as("seed %d", seed).isEqualTo(src.bytesProduced());
        assertThat(dst.stateDigest()).as("seed %d", seed).isEqualTo(src.stateDigest());
        assertThat(dst.qomProperty("x-state-digest")).contains(src.stateDigest());
        assertThat(src.bytesProduced()).as("seed %d", seed).isEqualTo(3145735 + 1572864 + (3L << 20) * 6 / 4);
    }

    @Test
    void dataLargerThanTheBufferIsRefusedNamingTheDevice() {
        VfioSimDevice d = device("", false);
        d.loadSetup(new Ctx());
        byte[] b = HexFormat.of().parseHex(DATA + be64(DATA_BUFFER_SIZE + 1L));
        assertThatThrownBy(() -> d.loadState(input(b), 1, SectionType.SECTION_PART))
                .hasMessageContaining("vfio-sim 'vf0'").hasMessageContaining("DEV_DATA_STATE size 1048577 exceeds");
    }

    @Test
    void unknownMarkerIsRefusedWithItsValue() {
        VfioSimDevice d = device("", false);
        d.loadSetup(new Ctx());
        byte[] b = HexFormat.of().parseHex("ffffffffef100009" + END);
        assertThatThrownBy(() -> d.loadState(input(b), 1, SectionType.SECTION_PART))
                .hasMessageContaining("vfio-sim 'vf0'").hasMessageContaining("unknown marker 0xffffffffef100009");
    }

    @Test
    void initDataSentWithoutSwitchoverAckOnTheDestinationIsRefused() {
        VfioSimDevice d = device("", false);
        d.loadSetup(new Ctx(Capability.RETURN_PATH));
        assertThatThrownBy(() -> d.loadState(input(HexFormat.of().parseHex(INIT_SENT)), 1, SectionType.SECTION_PART))
                .hasMessageContaining("vfio-sim 'vf0'").hasMessageContaining("DEV_INIT_DATA_SENT received, but switchover-ack is off");
        VfioSimDevice off = device("precopy=off", false);
        off.loadSetup(new Ctx(Capability.RETURN_PATH, Capability.SWITCHOVER_ACK));
        assertThatThrownBy(() -> off.loadState(input(HexFormat.of().parseHex(INIT_SENT)), 1, SectionType.SECTION_PART))
                .hasMessageContaining("precopy=off");
    }

    @Test
    void truncatedPayloadsFail() {
        VfioSimDevice d = device("", false);
        d.loadSetup(new Ctx());
        byte[] shortData = HexFormat.of().parseHex(DATA + be64(100) + "00".repeat(50));
        assertThatThrownBy(() -> d.loadState(input(shortData), 1, SectionType.SECTION_PART)).isInstanceOf(EOFException.class);
        byte[] noEnd = HexFormat.of().parseHex(SETUP);
        assertThatThrownBy(() -> d.loadState(input(noEnd), 1, SectionType.SECTION_START)).isInstanceOf(EOFException.class);
        byte[] badEnd = HexFormat.of().parseHex(SETUP + DATA);
        assertThatThrownBy(() -> d.loadState(input(badEnd), 1, SectionType.SECTION_START))
                .hasMessageContaining("expected END_OF_STATE after DEV_SETUP_STATE, got DEV_DATA_STATE");
    }
}
