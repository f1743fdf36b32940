package io.livemig.multifd;

import io.livemig.guest.RamBlock;

/**
 * A packet being assembled: which block, which page offsets. It holds no page bytes; the sender
 * thread reads (and zero-checks, copies or compresses) the pages from guest memory when it sends.
 * A fixed pool of these circulates between the migration thread and the senders (QEMU's
 * {@code MultiFDPages_t} handed over with {@code multifd_send_pages}), so nothing is allocated
 * per packet.
 *
 * <p>Ownership: whoever took it from a queue; it is handed over by a queue (which orders the writes).
 */
final class MultifdSendPacket {

    RamBlock block;
    byte[] name;
    final long[] offsets = new long[MultifdPacketDescriptor.PAGES_PER_PACKET];
    int count;
    boolean sync;
    long packetNum;

    void reset() {
        block = null;
        name = null;
        count = 0;
        sync = false;
    }
}
