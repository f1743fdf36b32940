package io.livemig.fuzz;

import io.livemig.devices.block.BlockDevice;
import io.livemig.devices.block.BlockRecordDescriptor;
import io.livemig.devices.block.DriveImage;
import io.livemig.devices.machine.CpuTimers;
import io.livemig.devices.ram.RamDevice;
import io.livemig.devices.ram.RamRecordDescriptor;
import io.livemig.devices.vfio.VfioSimDevice;
import io.livemig.devices.vfio.VfioSimProperties;
import io.livemig.devices.vfio.VfioStreamDescriptor;
import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;
import io.livemig.savevm.Capability;
import io.livemig.savevm.GlobalState;
import io.livemig.savevm.HandlerRegistry;
import io.livemig.savevm.MigrationCapabilities;
import io.livemig.savevm.MigrationParameters;
import io.livemig.savevm.MigrationStats;
import io.livemig.savevm.SaveStateEntry;
import io.livemig.savevm.SavevmLoader;
import io.livemig.stream.MigrationInput;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;

/**
 * A destination guest for {@link SavevmLoader} driven directly, without the VM facade: the same
 * handlers in the same order as {@code VirtualMachine} registers them (timer, reserved id, ram,
 * block, globalstate, then the {@code -device}s), for the superset of every seed's guest
 * ({@link FuzzSeeds#GUEST}). One instance is reused across cases: {@code loadCleanup} runs after
 * every load, exactly as {@code MigrationIncoming} does.
 *
 * <p>Allocation is measured with {@code com.sun.management.ThreadMXBean.getCurrentThreadAllocatedBytes}
 * on the thread that runs the load: it counts every heap byte that thread allocated (garbage
 * included), so it is an upper bound of what a stream can make the loader hold. Guest RAM and
 * drives are off-heap mappings and the stream buffer is a direct buffer allocated before the
 * measurement, so the count is the loader's own allocation, which the invariant bounds.
 */
final class FuzzDestination implements AutoCloseable {

    static final String MACHINE = "none";

    private final GuestMemory memory = new GuestMemory();
    private final DriveImage drive;
    private final HandlerRegistry registry = new HandlerRegistry();
    private final MigrationCapabilities caps = new MigrationCapabilities();
    private final GlobalState globalState = new GlobalState();

    FuzzDestination(Path driveFile) throws IOException {
        memory.add(RamBlock.anonymous(FuzzSeeds.RAM_ID, FuzzSeeds.RAM_SIZE, false));
        drive = DriveImage.open(FuzzSeeds.DRIVE_ID, driveFile);
        caps.set(EnumSet.of(Capability.BLOCK, Capability.XBZRLE, Capability.RETURN_PATH));
        registry.register(CpuTimers.IDSTR, CpuTimers.VERSION, new CpuTimers());
        registry.reserveSectionId();
        registry.register(RamRecordDescriptor.IDSTR, RamRecordDescriptor.VERSION,
                new RamDevice(memory, new MigrationStats(), pass -> { }, () -> false, caps, new MigrationParameters()));
        registry.register(BlockRecordDescriptor.IDSTR, BlockRecordDescriptor.INSTANCE_ID, BlockRecordDescriptor.VERSION,
                SaveStateEntry.PRIORITY_DEFAULT, new BlockDevice(List.of(drive), caps));
        registry.register(GlobalState.IDSTR, GlobalState.VERSION, globalState);
        VfioSimDevice vf = new VfioSimDevice(FuzzSeeds.VFIO_ID,
                VfioSimProperties.parse(FuzzSeeds.VFIO_ID, FuzzSeeds.VFIO_PROPS), () -> 0L, () -> false);
        registry.register(VfioStreamDescriptor.idstr(FuzzSeeds.VFIO_ID), 0, VfioStreamDescriptor.VERSION,
                SaveStateEntry.PRIORITY_DEFAULT, vf);
    }

    /** Bytes of guest state this destination declares: RAM, drives and the vfio-sim data buffer. */
    static long declaredBytes() {
        return FuzzSeeds.RAM_SIZE + FuzzSeeds.DRIVE_SIZE + (1L << 20);
    }

    /** How one load ended. {@code error} is null on success. */
    record Outcome(Throwable error, long allocatedBytes, long returnBytes) {
        boolean succeeded() {
            return error == null;
        }
    }

    /** Loads {@code input} on the calling thread; never throws what the loader threw, returns it. */
    Outcome load(byte[] input, int bufferSize) {
        CountingSink sink = new CountingSink();
        MigrationInput in = new MigrationInput(Channels.newChannel(new ByteArrayInputStream(input)), bufferSize);
        SavevmLoader loader = new SavevmLoader(registry, caps, MACHINE, Optional.empty(), sink);
        globalState.resetReceived();
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        Throwable error = null;
        try {
            loader.load(in);
        } catch (Throwable t) {
            error = t;
        } finally {
            for (SaveStateEntry e : registry.entries()) {
                e.handler().loadCleanup();
            }
        }
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        return new Outcome(error, allocated, sink.bytes);
    }

    @Override
    public void close() {
        drive.close();
        memory.close();
    }

    /** The return path: discards what the loader sends back, counting it. */
    static final class CountingSink implements WritableByteChannel {
        long bytes;

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            src.position(src.limit());
            bytes += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }
}
