package io.livemig.multifd;

import io.livemig.channel.ChannelWrapper;
import io.livemig.channel.IncomingListener;
import io.livemig.channel.MigrationChannel;
import io.livemig.channel.MigrationUri;
import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;
import io.livemig.savevm.MigrationParameters;
import io.livemig.stream.StreamHeaderDescriptor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ScatteringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs one multifd fuzz case through the real destination code and judges it: the connections
 * (main + one per multifd channel, in a chosen order) are in-memory channels handed out by a
 * listener to {@link MultifdLink#acceptAll} (init-packet classification), then
 * {@link MultifdLink#startReceiving} starts the real {@link MultifdRecvGroup}. The harness plays the
 * main stream as {@code RamLoader} does: {@code flushes} times {@link MultifdRecvGroup#syncMain}
 * (one per {@code MULTIFD_FLUSH}), then its end (EOS): it waits until the receivers are idle (ended or
 * held at a SYNC nobody will release), takes the first recorded channel error, and closes the group
 * as {@code RamDevice.loadCleanup} does. Each case must:
 * <ul>
 *   <li>end within {@value #TIME_BOUND_SECONDS} s (accept, every sync, idle, close);</li>
 *   <li>fail, if it fails, with an {@link IOException} that has a message and no
 *       {@link RuntimeException} or {@link Error} in its cause chain (the group wraps a receiver's
 *       throwable, so an escaped one shows there);</li>
 *   <li>leave the {@code guard} block (named by no seed) untouched;</li>
 *   <li>allocate on the heap (all threads, receivers included, which end with the case) no more than
 *       the guest's declared size plus {@link #SLACK_BYTES}.</li>
 * </ul>
 */
final class MultifdFuzzHarness implements AutoCloseable {

    static final long TIME_BOUND_SECONDS = 5;
    static final long SLACK_BYTES = 8L << 20;

    /** A case: compression, each connection's bytes in the order they arrive, flushes on the main stream. */
    record Input(MultifdCompression compression, int channels, List<byte[]> connections, int flushes, int chunk,
                 boolean scattering) {
    }

    /** What happened: the error (or null), the bytes the case allocated, whether it loaded. */
    record Outcome(Throwable error, long allocated, String stage) {
    }

    record Verdict(Outcome outcome, String problem) {
    }

    private final GuestMemory guest = MultifdFuzzSeeds.newGuest();
    private final MemorySegment guardCopy;
    private final com.sun.management.ThreadMXBean mx =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private ExecutorService worker = newWorker();
    private volatile MultifdLink running;

    MultifdFuzzHarness() throws InterruptedException {
        guardCopy = MemorySegment.ofArray(guest.find("guard").segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        warmUp();
    }

    /**
     * One unjudged case per method, a bad packet then a good one: the first use of a codec loads
     * its classes (zstd-jni extracts and loads its native library), which would count against the
     * first judged case's allocation bound.
     */
    private void warmUp() throws InterruptedException {
        for (MultifdCompression c : MultifdCompression.values()) {
            ByteBuffer h = ByteBuffer.allocate(MultifdPacketDescriptor.HEADER_LENGTH);
            MultifdPacketDescriptor.writeHeader(h, c.flag(), 1, 0, 16, 0, "pc.ram".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                    new long[] {0});
            byte[] bad = concat(init(0), h.array(), new byte[16]);
            MultifdPacketDescriptor.writeHeader(h, MultifdPacketDescriptor.FLAG_SYNC, 0, 0, 0, 1, null, new long[0]);
            byte[] sync = concat(init(1), h.array());
            for (int i = 0; i < 2; i++) {
                run(new Input(c, 2, List.of(mainStream(), bad, sync), 1, 1 << 20, true));
                run(new Input(c, 2, List.of(mainStream(), concat(init(0), h.array()), sync), 1, 1 << 20, true));
            }
        }
    }

    private static byte[] init(int id) {
        ByteBuffer b = ByteBuffer.allocate(MultifdPacketDescriptor.INIT_LENGTH);
        MultifdPacketDescriptor.writeInit(b, MultifdFuzzSeeds.UUID_SRC, id);
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    GuestMemory guest() {
        return guest;
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-multifd-main");
            t.setDaemon(true);
            return t;
        });
    }

    /** The main connection's first bytes: a stream header ({@code QEVM}, version 3). */
    static byte[] mainStream() {
        return ByteBuffer.allocate(8).putInt(StreamHeaderDescriptor.MAGIC).putInt(3).array();
    }

    Verdict run(Input in) throws InterruptedException {
        Future<Outcome> f = worker.submit(() -> load(in));
        Outcome o;
        try {
            o = f.get(TIME_BOUND_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            MultifdLink l = running;
            f.cancel(true);
            if (l != null) {
                l.closeIncoming();
            }
            worker.shutdownNow();
            worker = newWorker();
            return new Verdict(null, "did not end within " + TIME_BOUND_SECONDS + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            return new Verdict(null, "harness failure: " + e.getCause());
        }
        return new Verdict(o, judge(o));
    }

    private Outcome load(Input in) {
        MigrationParameters params = new MigrationParameters();
        params.multifdChannels(in.channels());
        params.multifdCompression(in.compression().qapiName());
        MultifdLink link = new MultifdLink(params);
        running = link;
        List<MemChannel> conns = new ArrayList<>();
        for (byte[] b : in.connections()) {
            conns.add(new MemChannel(b, in.chunk(), in.scattering()));
        }
        long a0 = mx.getTotalThreadAllocatedBytes();
        String stage = "accept";
        Throwable error = null;
        MultifdRecvGroup group = null;
        try {
            MigrationChannel main = link.acceptAll(new MemListener(conns), null, ChannelWrapper.NONE);
            byte[] head = new byte[8];
            ByteBuffer hb = ByteBuffer.wrap(head);
            while (hb.hasRemaining() && main.in().read(hb) >= 0) {
                // the peeked magic comes back first
            }
            if (ByteBuffer.wrap(head).getInt() != StreamHeaderDescriptor.MAGIC) {
                throw new AssertionError("main channel lost its peeked magic");
            }
            group = link.startReceiving(guest);
            for (int i = 0; i < in.flushes(); i++) {
                stage = "flush " + (i + 1);
                group.syncMain();
            }
            stage = "end";
            while (!group.idle()) {
                Thread.sleep(1);
            }
            group.checkError();
            stage = "loaded";
        } catch (Throwable t) {
            error = t;
        } finally {
            if (group != null) {
                group.close();
            }
            link.closeIncoming();
            running = null;
        }
        long allocated = mx.getTotalThreadAllocatedBytes() - a0;
        return new Outcome(error, allocated, stage);
    }

    private String judge(Outcome o) {
        long limit = MultifdFuzzSeeds.declaredBytes() + SLACK_BYTES;
        if (o.allocated() > limit) {
            return "allocated " + o.allocated() + " heap bytes, over the bound of " + limit;
        }
        MemorySegment guard = guest.find("guard").segment();
        long at = guard.mismatch(guardCopy);
        if (at >= 0) {
            MemorySegment.copy(guardCopy, 0, guard, 0, guardCopy.byteSize());
            return "wrote into the guard block at 0x" + Long.toHexString(at);
        }
        return judgeError(o.error());
    }

    /** Null when {@code t} is no error or a clear one; else what is wrong with it. */
    static String judgeError(Throwable t) {
        return io.livemig.fuzz.FuzzVerdicts.judgeError(t);
    }

    /** Keeps a failing case under target/fuzz-failures-multifd for a corpus entry. */
    static Path keep(String name, Input in) {
        try {
            Path dir = Path.of("target", "fuzz-failures-multifd");
            Files.createDirectories(dir);
            return Files.writeString(dir.resolve(name), MultifdCorpus.format(in, null));
        } catch (IOException e) {
            return Path.of("(not kept: " + e + ")");
        }
    }

    /** The ram blocks' content, for the unmutated seeds' check. */
    byte[] content(String block) {
        RamBlock b = guest.find(block);
        return b.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    void fill(byte value) {
        guest.find("pc.ram").forgetKnownZero();
        guest.find("vga.vram").forgetKnownZero();
        guest.find("pc.ram").segment().fill(value);
        guest.find("vga.vram").segment().fill(value);
    }

    @Override
    public void close() {
        worker.shutdownNow();
        guest.close();
    }

    /** Hands out the case's connections in order; a listener with none left fails as a closed one. */
    private static final class MemListener implements IncomingListener {
        private final List<MemChannel> conns;
        private int next;

        MemListener(List<MemChannel> conns) {
            this.conns = conns;
        }

        @Override
        public MigrationChannel accept() throws IOException {
            if (next >= conns.size()) {
                throw new ClosedChannelException();
            }
            return conns.get(next++);
        }

        @Override
        public MigrationUri address() {
            return new MigrationUri.Unix(Path.of("fuzz.sock"));
        }

        @Override
        public void close() {
        }
    }

    /**
     * A connection whose input is a byte array: reads return at most {@code chunk} bytes (short
     * reads, as a socket's), then end of stream; after {@link #close} reads fail as a closed
     * socket's. Optionally a {@link ScatteringByteChannel}, so both payload read paths run.
     */
    static final class MemChannel implements MigrationChannel {
        private final byte[] data;
        private final int chunk;
        private int pos;
        private volatile boolean closed;
        private final java.nio.channels.ReadableByteChannel in;

        MemChannel(byte[] data, int chunk, boolean scattering) {
            this.data = data;
            this.chunk = chunk;
            this.in = scattering ? new Scattering() : new Plain();
        }

        private synchronized int readInto(ByteBuffer dst) throws IOException {
            if (closed) {
                throw new AsynchronousCloseException();
            }
            if (pos >= data.length) {
                return -1;
            }
            int n = Math.min(Math.min(dst.remaining(), chunk), data.length - pos);
            dst.put(data, pos, n);
            pos += n;
            return n;
        }

        /** A socket's plain reads. */
        private class Plain implements java.nio.channels.ReadableByteChannel {
            @Override
            public int read(ByteBuffer dst) throws IOException {
                return readInto(dst);
            }

            @Override
            public boolean isOpen() {
                return !closed;
            }

            @Override
            public void close() {
                closed = true;
            }
        }

        /** Plain reads and a socket's scattering reads. */
        private class Scattering extends Plain implements ScatteringByteChannel {
            @Override
            public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
                long total = 0;
                for (int i = offset; i < offset + length; i++) {
                    if (!dsts[i].hasRemaining()) {
                        continue;
                    }
                    int n = readInto(dsts[i]);
                    if (n < 0) {
                        return total == 0 ? -1 : total;
                    }
                    total += n;
                    if (dsts[i].hasRemaining()) {
                        break;
                    }
                }
                return total;
            }

            @Override
            public long read(ByteBuffer[] dsts) throws IOException {
                return read(dsts, 0, dsts.length);
            }
        }

        @Override
        public java.nio.channels.ReadableByteChannel in() {
            return in;
        }

        @Override
        public WritableByteChannel out() {
            throw new UnsupportedOperationException("the destination's multifd channels are read only");
        }

        @Override
        public boolean supportsReturnPath() {
            return true;
        }

        @Override
        public void shutdownOutput() {
        }

        @Override
        public String describe() {
            return "mem:" + data.length;
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
