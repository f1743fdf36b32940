package io.livemig.vm;

import io.livemig.guest.RamBlock;
import io.livemig.savevm.MigrationParameters;
import io.livemig.savevm.MigrationStatus;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Compiles the page path before the first real migration: a few migrations of a small guest
 * between two in-process machines over loopback TCP, run when a {@code livemig vm} starts.
 *
 * <p>Why. Every migration used to start in the interpreter: the page loops (zero check, the copy
 * into the stream buffer, the loader's parse and copy) reached C2 only after some hundreds of
 * megabytes, and the JIT compiler threads competed with the migration for this machine's two
 * CPUs: 0.12–0.17 CPU-s per side of a 1 GiB migration went to compilation (docs/benchmarks.md),
 * and the second migration from one process took half the first's time. QEMU's page path is
 * compiled ahead of time; this puts livemig's in the same state before a management tool can
 * see the process. The JDK AOT cache ({@code bin/aot.sh}) holds profiles but no compiled code, so
 * it shortens this warm-up but does not replace it.
 *
 * <p>What it runs: the same code a real migration runs, not a copy of its loops, so the
 * profiles match (the same channel classes, the same record kinds: runs of random pages, runs
 * of zero pages and a mix, {@link #fillMixed}; the last rounds over multifd). Where a real
 * migration takes a branch this small guest would not, the warm-up arranges it: short multifd
 * packets ({@link #MULTIFD_PACKET_PAGES}) and rounds with {@code downtime-limit 0}. C2 compiles a
 * branch it never saw taken as a trap, and the first real migration would pay for the
 * recompilation on its own CPUs. Its stream buffers go back to
 * {@link io.livemig.stream.StreamBufferPool} and serve the first real migration.
 *
 * <p>Cost: its run time and CPU at start, before QMP answers (measured in docs/benchmarks.md).
 * A failure here costs only speed: it is reported and the machine starts anyway.
 */
public final class PagePathWarmup {

    /** Enough pages per round that the page loops run many thousand times; small enough to be quick. */
    public static final long DEFAULT_GUEST_BYTES = 16L << 20;
    public static final int DEFAULT_ROUNDS = 6;
    /**
     * Of the rounds, how many run with capability {@code multifd} (two channels, no compression):
     * the last ones, so the multifd senders, receivers and packet code are compiled too (without
     * them a first multifd migration ran 1.5x slower than one channel, docs/benchmarks.md).
     */
    public static final int MULTIFD_ROUNDS = 2;
    /**
     * Pages per multifd packet in the warm-up (a real migration: 128). The multifd code runs once
     * per packet, and its methods reach C2 after some thousands of calls: with full packets the
     * warm-up's 48 packets per round left them in C1, and C2 compiled them, with the JDK code
     * they call, during the first real multifd migration (0.3 CPU-s on the source; two channels
     * were slower than one). With 4-page packets the same rounds make 32 times as many calls, and
     * the first 1 GiB multifd migration's compiler threads use 0.15 s on the source and 0.01 s
     * on the destination (docs/benchmarks.md).
     */
    static final int MULTIFD_PACKET_PAGES = 4;
    private static final List<Map<String, Object>> MULTIFD_ON = List.of(Map.of("capability", "multifd", "state", true));

    private static final Duration ROUND_TIMEOUT = Duration.ofSeconds(30);
    private static final String BACKEND = "warmup0";
    private static final String FILE_BACKEND = "warmup1";

    private PagePathWarmup() {
    }

    /** What a warm-up did: rounds completed and wall time. */
    public record Result(int rounds, Duration elapsed) {
    }

    /**
     * Called about every millisecond for each machine while a round's migration runs, as a
     * management tool polls {@code query-migrate}; the QMP layer warms its own path with it.
     */
    @FunctionalInterface
    public interface Observer {
        void poll(VirtualMachine vm);
    }

    /** Runs {@link #DEFAULT_ROUNDS} migrations of a {@link #DEFAULT_GUEST_BYTES} guest. */
    public static Result run(Observer observer) throws IOException {
        return run(DEFAULT_GUEST_BYTES, DEFAULT_ROUNDS, scratchRoot(), observer);
    }

    /**
     * Migrates a {@code guestBytes} guest of mixed content {@code rounds} times, each to a fresh
     * destination, and checks each destination's RAM.
     *
     * @throws IOException if a round fails or its RAM differs (the caller reports it and goes on)
     */
    public static Result run(long guestBytes, int rounds) throws IOException {
        return run(guestBytes, rounds, scratchRoot(), vm -> vm.queryMigrate());
    }

    /** As {@link #run(long, int)}, with the shared file's scratch directory under {@code root}. */
    static Result run(long guestBytes, int rounds, Path root, Observer observer) throws IOException {
        long start = System.nanoTime();
        Path dir = Files.createTempDirectory(root, "livemig-warmup-");
        try (VirtualMachine src = startUnlinked(guestBytes, dir, "src", Optional.empty())) {
            for (RamBlock b : src.memory().blocks()) {
                fillMixed(b);
            }
            src.setMigrateParameters(Map.of("max-bandwidth", 0L));
            src.migrationParameters().multifdPacketPages(MULTIFD_PACKET_PAGES);
            for (int r = 0; r < rounds; r++) {
                // Every other round with downtime-limit 0: the pass then runs until no page is
                // dirty and the page loop leaves through its "pass done" exit, as a real guest's
                // first pass does; with the default limit this small guest switches over first
                // and hands the rest to the completion's loop. C2 compiles an exit it never saw
                // taken as a trap, and the first real migration recompiled the loop (JFR,
                // docs/benchmarks.md).
                src.setMigrateParameters(Map.of("downtime-limit", r % 2 == 0 ? 0L : MigrationParameters.DEFAULT_DOWNTIME_LIMIT_MS));
                try (VirtualMachine dst = startUnlinked(guestBytes, dir, "dst" + r, Optional.of("tcp:127.0.0.1:0"))) {
                    if (r == rounds - Math.min(MULTIFD_ROUNDS, rounds / 2)) {
                        src.setMigrateCapabilities(MULTIFD_ON);
                    }
                    if (r >= rounds - Math.min(MULTIFD_ROUNDS, rounds / 2)) {
                        dst.setMigrateCapabilities(MULTIFD_ON); // read when the source connects
                    }
                    src.migrate(dst.incomingAddress().orElseThrow().toString());
                    await(src, dst, observer);
                    for (RamBlock a : src.memory().blocks()) {
                        RamBlock b = dst.memory().find(a.idstr());
                        if (MemorySegment.mismatch(a.segment(), 0, a.size(), b.segment(), 0, b.size()) != -1) {
                            throw new IOException("warm-up round " + (r + 1) + ": destination RAM differs from the source's");
                        }
                    }
                }
                // a paused source stays paused (postmigrate); the next round migrates it again
            }
        } catch (VmCommandException e) {
            throw new IOException("warm-up: " + e.getMessage(), e);
        } finally {
            Files.deleteIfExists(dir);
        }
        return new Result(rounds, Duration.ofNanos(System.nanoTime() - start));
    }

    /**
     * Starts a machine and removes its RAM file at once: the mapping stays, and a process killed
     * during the warm-up leaves nothing behind in /dev/shm.
     */
    private static VirtualMachine startUnlinked(long size, Path dir, String side, Optional<String> incoming)
            throws IOException {
        Path file = dir.resolve(side + ".ram");
        try {
            return VirtualMachine.start(config(size, file, incoming));
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** /dev/shm when it is there (as a memory-backend-file guest's RAM usually is), else the temp dir. */
    private static Path scratchRoot() {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    /**
     * Two blocks: anonymous RAM and a shared file (memory-backend-ram and -file map to different
     * {@code MemorySegment} classes; the page loops must be compiled for both, or the first real
     * migration of the other kind deoptimizes them).
     */
    private static VmConfig config(long size, Path file, Optional<String> incoming) {
        return new VmConfig(Optional.of("warmup"), Optional.empty(), VirtualMachine.MACHINE_NONE, BACKEND,
                List.of(new VmConfig.MemoryBackend(BACKEND, size, Optional.empty(), false, false),
                        new VmConfig.MemoryBackend(FILE_BACKEND, size / 2, Optional.of(file), true, false)),
                List.of(), true, incoming);
    }

    private static void await(VirtualMachine src, VirtualMachine dst, Observer observer) throws IOException {
        long deadline = System.nanoTime() + ROUND_TIMEOUT.toNanos();
        while (!(src.outgoingStatus().isFinished() && dst.incomingStatus().isFinished())) {
            if (System.nanoTime() > deadline) {
                src.migrateCancel();
                throw new IOException("warm-up migration not finished within " + ROUND_TIMEOUT);
            }
            observer.poll(src);
            observer.poll(dst);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        if (src.outgoingStatus() != MigrationStatus.COMPLETED || dst.incomingStatus() != MigrationStatus.COMPLETED) {
            throw new IOException("warm-up migration ended " + src.outgoingStatus() + " / " + dst.incomingStatus()
                    + ": " + src.queryMigrate().get("error-desc"));
        }
    }

    /**
     * The warm-up's and the AOT training's guest content: the first 3/8 random pages, the next
     * 3/8 zero pages, the last quarter a coin per page (random or zero), all from
     * {@code SplittableRandom(1)}: half the pages random, as with a coin per page, so the
     * warm-up's peak RSS stays where it was. Zero pages are left as they are, so {@code block}
     * must be fresh (all zero).
     *
     * <p>Why regions and not only coins: the JIT compiles the page loops for the branches it saw.
     * With a coin per page every multifd packet held both kinds and every run of pages was short;
     * a real guest's random RAM (packets of 128 normal pages, one run each) then hit branches the
     * compiled code had never taken, and the first real multifd migration deoptimized and
     * recompiled {@code PageRuns.views} and {@code detectZeroPages} on its two CPUs
     * (docs/benchmarks.md).
     */
    public static void fillMixed(RamBlock block) {
        block.forgetKnownZero();
        MemorySegment ram = block.segment();
        long pages = ram.byteSize() / 4096;
        SplittableRandom rnd = new SplittableRandom(1);
        for (long p = 0; p < pages; p++) {
            boolean random = p < pages * 3 / 8 || (p >= pages * 3 / 4 && rnd.nextBoolean());
            if (random) {
                long page = p * 4096;
                for (long i = 0; i < 4096; i += 8) {
                    ram.set(ValueLayout.JAVA_LONG_UNALIGNED, page + i, rnd.nextLong());
                }
            }
        }
    }
}
