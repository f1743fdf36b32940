package io.livemig.fuzz;

import io.livemig.guest.RunState;
import io.livemig.savevm.MigrationStatus;
import io.livemig.vm.VirtualMachine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Mutated streams through whole {@link VirtualMachine} destinations ({@code -incoming defer},
 * capabilities set, then {@code migrate-incoming file:…}): the incoming thread ends within the
 * time bound; a failure shows status {@code failed} with an error-desc that names no Java
 * exception class and leaves the guest {@code inmigrate}; a success leaves the run state the
 * stream asked for; no thread dies of an uncaught exception.
 *
 * <p>{@code -Dlivemig.fuzz.vm-iterations=N} (default 60); seeds as in {@link LoaderFuzzTest}.
 */
@Timeout(180)
class VmDestinationFuzzTest {

    static final long RUN_SEED = Long.getLong("livemig.fuzz.seed", new SplittableRandom().nextLong());
    static final int ITERATIONS = Integer.getInteger("livemig.fuzz.vm-iterations", 60);

    @TempDir
    static Path dir;
    static List<FuzzSeeds.Seed> seeds;
    static final List<String> uncaught = Collections.synchronizedList(new ArrayList<>());
    static Thread.UncaughtExceptionHandler previous;

    @BeforeAll
    static void setUp() throws Exception {
        seeds = FuzzSeeds.build(dir, 0x5eedL);
        previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(t.getName() + ": " + e));
    }

    @AfterAll
    static void tearDown() {
        Thread.setDefaultUncaughtExceptionHandler(previous);
    }

    /** Loads {@code input} into a fresh destination; returns null or what was wrong. */
    static String load(byte[] input, String name) throws Exception {
        Path f = Files.write(dir.resolve(name), input);
        Path drive = FuzzSeeds.newDrive(dir, "dst-" + name + ".img", 1);
        try (VirtualMachine dst = VirtualMachine.start(FuzzSeeds.destinationConfig(drive))) {
            dst.setMigrateCapabilities(List.of(Map.of("capability", "block", "state", true),
                    Map.of("capability", "xbzrle", "state", true)));
            dst.migrateIncoming("file:" + f);
            long end = System.nanoTime() + Duration.ofSeconds(FuzzHarness.TIME_BOUND_SECONDS).toNanos();
            while (!dst.incomingStatus().isFinished()) {
                if (System.nanoTime() > end) {
                    return "incoming did not finish within " + FuzzHarness.TIME_BOUND_SECONDS + " s: " + dst.queryMigrate();
                }
                java.util.concurrent.locks.LockSupport.parkNanos(2_000_000);
            }
            Map<String, Object> q = dst.queryMigrate();
            RunState rs = dst.runState();
            if (dst.incomingStatus() == MigrationStatus.FAILED) {
                String desc = (String) q.get("error-desc");
                if (desc == null || desc.isBlank()) {
                    return "failed without error-desc: " + q;
                }
                if (desc.contains("java.") || desc.contains("Exception")) {
                    return "error-desc names a Java exception: " + desc;
                }
                if (rs != RunState.INMIGRATE) {
                    return "failed load left run state " + rs;
                }
                return null;
            }
            if (dst.incomingStatus() != MigrationStatus.COMPLETED) {
                return "finished as " + dst.incomingStatus();
            }
            return rs == RunState.INMIGRATE ? "completed load left the guest inmigrate" : null;
        }
    }

    @Test
    void unmutatedSeedsLoadIntoAWholeDestination() throws Exception {
        for (FuzzSeeds.Seed s : seeds) {
            if (s.name().equals("return-path")) {
                continue; // a file has no return path: OPEN_RETURN_PATH must fail there
            }
            assertThat(load(s.bytes(), "seed-" + s.name())).as("seed %s", s.name()).isNull();
        }
        assertThat(load(seeds.getLast().bytes(), "seed-rp")).isNull();
        assertThat(uncaught).isEmpty();
    }

    @Test
    void mutatedStreamsFailCleanlyOrLoadConsistently() throws Exception {
        Mutator m = new Mutator(seeds);
        SplittableRandom run = new SplittableRandom(RUN_SEED);
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < ITERATIONS; i++) {
            long caseSeed = run.nextLong();
            Mutator.Case c = m.mutate(caseSeed);
            String p = load(c.input(), "case-" + i);
            if (p != null) {
                Path kept = FuzzHarness.keep("vm-case-" + Long.toUnsignedString(caseSeed, 16) + ".bin", c.input());
                problems.add(String.format("case seed %d from %s: %s -> %s (kept in %s)", caseSeed, c.base(), c.what(), p, kept));
            }
        }
        System.out.printf("vm destination fuzz: run seed %d, %d cases%n", RUN_SEED, ITERATIONS);
        assertThat(problems).as("run seed %d (-Dlivemig.fuzz.seed=%d)", RUN_SEED, RUN_SEED).isEmpty();
        assertThat(uncaught).as("uncaught exceptions").isEmpty();
    }
}
