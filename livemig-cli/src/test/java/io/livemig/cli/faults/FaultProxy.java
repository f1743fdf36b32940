package io.livemig.cli.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A TCP forwarder on loopback between a migration source and its destination that injects one
 * fault into the one connection it accepts, once {@code afterBytes} bytes went source → destination:
 *
 * <ul>
 *   <li>{@link Fault#RST}: abortive close of both sockets (SO_LINGER 0): both peers get a reset.</li>
 *   <li>{@link Fault#FIN}: orderly close: FIN to both peers (the destination sees the stream end
 *       mid-record, the source's return path sees end of file); what the source sends afterwards
 *       meets a closed socket, as with a real peer that closed.</li>
 *   <li>{@link Fault#STALL}: stops forwarding in both directions and stops reading, but keeps both
 *       connections open: the source's writes block once the socket buffers are full and the
 *       destination's reads wait forever — a peer that hangs.</li>
 * </ul>
 *
 * Exactly {@code afterBytes} bytes reach the destination. The return path (destination → source)
 * is forwarded untouched until the fault. Threads are virtual and end when the proxy closes.
 */
final class FaultProxy implements AutoCloseable {

    enum Fault { RST, FIN, STALL }

    private final ServerSocket server;
    private final int targetPort;
    private final Fault fault;
    private final long afterBytes;
    private final CountDownLatch faulted = new CountDownLatch(1);
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile Socket fromSource;
    private volatile Socket toDestination;
    private volatile long forwarded;
    private final Thread acceptor;

    private FaultProxy(int targetPort, Fault fault, long afterBytes) throws IOException {
        this.targetPort = targetPort;
        this.fault = fault;
        this.afterBytes = afterBytes;
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.acceptor = Thread.ofVirtual().name("fault-proxy-accept").start(this::acceptOne);
    }

    /** Forwards to {@code 127.0.0.1:targetPort} and injects {@code fault} after {@code afterBytes}. */
    static FaultProxy start(int targetPort, Fault fault, long afterBytes) throws IOException {
        return new FaultProxy(targetPort, fault, afterBytes);
    }

    /** The {@code migrate} URI of the proxy. */
    String uri() {
        return "tcp:127.0.0.1:" + server.getLocalPort();
    }

    /** Bytes forwarded source → destination so far. */
    long forwarded() {
        return forwarded;
    }

    boolean hasFaulted() {
        return faulted.getCount() == 0;
    }

    void awaitFault(Duration timeout) throws TimeoutException, InterruptedException {
        if (!faulted.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new TimeoutException("proxy did not inject " + fault + " after " + afterBytes + " bytes within " + timeout
                    + " (forwarded " + forwarded + ")");
        }
    }

    private void acceptOne() {
        try {
            Socket src = server.accept();
            fromSource = src;
            server.close();
            Socket dst = new Socket();
            dst.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 10_000);
            toDestination = dst;
            Thread.ofVirtual().name("fault-proxy-rp").start(() -> pumpReturnPath(dst, src));
            pumpStream(src, dst);
        } catch (IOException e) {
            // a peer closed, or the proxy did
        }
    }

    /** Source → destination, counting, until the budget is spent; then the fault. */
    private void pumpStream(Socket src, Socket dst) throws IOException {
        byte[] buf = new byte[64 * 1024];
        InputStream in = src.getInputStream();
        OutputStream out = dst.getOutputStream();
        while (forwarded < afterBytes) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, afterBytes - forwarded));
            if (n < 0) {
                return;
            }
            out.write(buf, 0, n);
            out.flush();
            forwarded += n;
        }
        inject(src, dst);
    }

    private void inject(Socket src, Socket dst) throws IOException {
        switch (fault) {
            case RST -> {
                src.setSoLinger(true, 0);
                dst.setSoLinger(true, 0);
                src.close();
                dst.close();
            }
            case FIN -> {
                dst.shutdownOutput();
                src.shutdownOutput();
                dst.close();
                src.close();
            }
            case STALL -> {
                // hold both sockets open and read nothing more until the proxy closes
                faulted.countDown();
                try {
                    closed.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return;
            }
        }
        faulted.countDown();
    }

    /** Destination → source (the return path), until the fault. */
    private void pumpReturnPath(Socket dst, Socket src) {
        byte[] buf = new byte[8192];
        try {
            InputStream in = dst.getInputStream();
            OutputStream out = src.getOutputStream();
            while (true) {
                int n = in.read(buf);
                if (n < 0 || (fault == Fault.STALL && hasFaulted())) {
                    return;
                }
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // closed by the fault or the proxy
        }
    }

    @Override
    public void close() throws IOException {
        closed.countDown();
        server.close();
        for (Socket s : new Socket[]{fromSource, toDestination}) {
            if (s != null) {
                s.close();
            }
        }
        try {
            acceptor.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
