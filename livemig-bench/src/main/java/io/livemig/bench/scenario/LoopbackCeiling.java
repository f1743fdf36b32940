package io.livemig.bench.scenario;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * The loopback TCP ceiling: how fast one socket on this machine moves bytes when nothing else
 * is done with them. A writer thread writes 4 MiB direct buffers whole, a reader thread reads
 * 4 MiB at a time, over one 127.0.0.1 connection, until {@code bytes} have arrived. The time
 * runs from the first write to the last byte read. This is the bound a single-channel migration
 * (livemig or QEMU) can at best reach.
 */
final class LoopbackCeiling {

    static final int BUFFER = 4 << 20;

    private LoopbackCeiling() {
    }

    /** Bytes per second over loopback, moving {@code bytes}. */
    static double measure(long bytes) throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            FutureTask<Long> reader = new FutureTask<>(() -> {
                try (SocketChannel in = server.accept()) {
                    ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
                    long got = 0;
                    while (got < bytes) {
                        buf.clear();
                        int n = in.read(buf);
                        if (n < 0) {
                            throw new IOException("loopback writer closed after " + got + " bytes");
                        }
                        got += n;
                    }
                    return System.nanoTime();
                }
            });
            Thread readerThread = Thread.ofPlatform().name("loopback-reader").start(reader);
            long start;
            try (SocketChannel out = SocketChannel.open(server.getLocalAddress())) {
                ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
                for (int i = 0; i < BUFFER; i += Long.BYTES) {
                    buf.putLong(i, 0x9E3779B97F4A7C15L * (i + 1));
                }
                start = System.nanoTime();
                long sent = 0;
                while (sent < bytes) {
                    buf.clear();
                    buf.limit((int) Math.min(BUFFER, bytes - sent));
                    while (buf.hasRemaining()) {
                        sent += out.write(buf);
                    }
                }
                long end = reader.get();
                readerThread.join();
                return bytes * 1e9 / (end - start);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw new UncheckedIOException(new IOException(e.getCause()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while measuring loopback", e);
            }
        }
    }
}
