package io.livemig.multifd;

import io.livemig.channel.ChannelWrapper;
import io.livemig.channel.IncomingListener;
import io.livemig.channel.MigrationChannel;
import io.livemig.channel.MigrationUri;
import io.livemig.channel.Transports;
import io.livemig.guest.GuestMemory;
import io.livemig.guest.RamBlock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * x-stall-timeout on the multifd channels: a peer that stops reading one channel, or never sends
 * one channel's SYNC, fails the migration within the timeout instead of holding it forever (the
 * main channel's watchdog cannot see either: the main stream itself is healthy).
 */
@Timeout(30)
class MultifdStallTest {

    private static final Duration CONNECT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void aDestinationThatStopsReadingAChannelFailsTheSourceWithinTheTimeout() throws Exception {
        MigrationUri uri = MigrationUri.parse("unix:" + dir.resolve("mf.sock"));
        try (IncomingListener listener = Transports.listen(uri);
             RamBlock block = RamBlock.anonymous("mem0", 32L << 20, false)) {
            SplittableRandom r = new SplittableRandom(3);
            for (long off = 0; off < block.size(); off += 8) {
                block.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, off, r.nextLong() | 1);
            }
            MultifdSendGroup g = MultifdSendGroup.open(uri, 1, MultifdCompression.NONE, 1, new UUID(0, 0), CONNECT,
                    ChannelWrapper.NONE, () -> 200, MultifdPacketDescriptor.PAGES_PER_PACKET);
            try (MigrationChannel silent = listener.accept()) { // accepted, never read
                byte[] name = "mem0".getBytes(StandardCharsets.UTF_8);
                long start = System.nanoTime();
                boolean ok = true;
                for (long off = 0; off < block.size() && ok; off += 4096) {
                    ok = g.queuePage(block, name, off);
                }
                ok = ok && g.flushAndSync();
                long ms = (System.nanoTime() - start) / 1_000_000;
                assertThat(ok).as("32 MiB into a channel nobody reads").isFalse();
                assertThat(g.error()).hasMessageContaining("migration stalled: no progress for 200 ms on the multifd channels");
                assertThat(ms).as("ms until the stall was noticed").isLessThan(10_000);
                assertThat(silent.in().isOpen()).isTrue();
            } finally {
                g.close();
            }
        }
    }

    @Test
    void aChannelWithoutItsSyncFailsTheFlushWithinTheTimeout() throws Exception {
        MigrationUri uri = MigrationUri.parse("unix:" + dir.resolve("mf.sock"));
        GuestMemory memory = new GuestMemory();
        memory.add(RamBlock.anonymous("mem0", 1L << 20, false));
        try (IncomingListener listener = Transports.listen(uri);
             MigrationChannel src0 = Transports.connect(uri, CONNECT);
             MigrationChannel dst0 = listener.accept();
             MigrationChannel src1 = Transports.connect(uri, CONNECT);
             MigrationChannel dst1 = listener.accept()) {
            ByteBuffer sync = ByteBuffer.allocate(MultifdPacketDescriptor.HEADER_LENGTH);
            MultifdPacketDescriptor.writeHeader(sync, MultifdPacketDescriptor.FLAG_SYNC, 0, 0, 0, 0, null,
                    new long[MultifdPacketDescriptor.PAGES_PER_PACKET]);
            sync.clear();
            while (sync.hasRemaining()) {
                src0.out().write(sync); // one channel syncs; the other stays silent, its socket open
            }
            assertThat(src1.out().isOpen()).as("the silent channel's source end").isTrue();
            MultifdRecvGroup g = new MultifdRecvGroup(List.of(dst0, dst1), memory, MultifdCompression.NONE, () -> 200).start();
            try {
                long start = System.nanoTime();
                assertThatThrownBy(g::syncMain).isInstanceOf(IOException.class)
                        .hasMessage("migration stalled: no progress for 200 ms on the multifd channels"
                                + " (waiting for every channel's SYNC)");
                assertThat((System.nanoTime() - start) / 1_000_000).as("ms waited").isBetween(150L, 10_000L);
            } finally {
                g.close();
                memory.close();
            }
        }
    }
}
