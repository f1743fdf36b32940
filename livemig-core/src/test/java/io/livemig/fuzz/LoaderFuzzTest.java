package io.livemig.fuzz;

import io.livemig.savevm.HandlerRegistry;
import io.livemig.savevm.MigrationCapabilities;
import io.livemig.savevm.SavevmLoader;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.SectionType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The seeded mutation fuzzer of the destination loader ({@link SavevmLoader} driven directly; see
 * {@link VmDestinationFuzzTest} for whole destinations). Every input must end within
 * {@value FuzzHarness#TIME_BOUND_SECONDS} s in a clean failure or a success, within the
 * allocation bound ({@link FuzzHarness}).
 *
 * <p>{@code -Dlivemig.fuzz.iterations=N} (default 20000, about 10 s) sets the case count,
 * {@code -Dlivemig.fuzz.seed=S} the run's seed; a failing case prints its own seed, which
 * {@code -Dlivemig.fuzz.case=S} replays alone. Failing inputs are kept under
 * {@code target/fuzz-failures/}; once fixed, they go to {@code src/test/resources/fuzz-corpus/}.
 */
@Timeout(240)
class LoaderFuzzTest {

    static final long RUN_SEED = Long.getLong("livemig.fuzz.seed", new SplittableRandom().nextLong());
    static final int ITERATIONS = Integer.getInteger("livemig.fuzz.iterations", 20000);

    @TempDir
    static Path dir;
    static List<FuzzSeeds.Seed> seeds;
    static FuzzDestination dest;
    static FuzzHarness harness;

    @BeforeAll
    static void buildSeeds() throws Exception {
        seeds = FuzzSeeds.build(dir, 0x5eedL);
        dest = new FuzzDestination(FuzzSeeds.newDrive(dir, "dst-drive.img", 1));
        harness = new FuzzHarness(dest);
        System.out.println("fuzz seeds " + FuzzSeeds.sizes(seeds));
    }

    @AfterAll
    static void close() {
        if (harness != null) {
            harness.close();
        }
        if (dest != null) {
            dest.close();
        }
    }

    @Test
    void everySeedLoadsUnmutated() throws Exception {
        for (FuzzSeeds.Seed s : seeds) {
            FuzzHarness.Verdict v = harness.run(s.bytes(), MigrationInput.DEFAULT_BUFFER_SIZE, 0);
            assertThat(v.problem()).as("seed %s", s.name()).isNull();
            assertThat(v.outcome().error()).as("seed %s", s.name()).isNull();
            assertThat(s.boundaries()).as("records of seed %s", s.name()).hasSizeGreaterThan(4);
        }
        FuzzHarness.Verdict rp = harness.run(seeds.getLast().bytes(), 8192, 0);
        assertThat(rp.outcome().returnBytes()).as("two PONGs of 8 bytes").isEqualTo(16);
    }

    @Test
    void mutatedStreamsEndCleanlyInTimeAndWithinTheAllocationBound() throws Exception {
        Mutator m = new Mutator(seeds);
        Long only = Long.getLong("livemig.fuzz.case");
        int n = only != null ? 1 : ITERATIONS;
        SplittableRandom run = new SplittableRandom(RUN_SEED);
        List<String> problems = new ArrayList<>();
        Map<String, Integer> endings = new TreeMap<>();
        int ok = 0;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long caseSeed = only != null ? only : run.nextLong();
            Mutator.Case c = m.mutate(caseSeed);
            int buf = new int[] {8192, 65536, 65536, 65536, MigrationInput.DEFAULT_BUFFER_SIZE}[(int) Math.floorMod(caseSeed, 5L)];
            FuzzHarness.Verdict v = harness.run(c.input(), buf, 0);
            if (v.problem() != null) {
                Path kept = FuzzHarness.keep("case-" + Long.toUnsignedString(caseSeed, 16) + ".bin", c.input());
                problems.add(String.format("case seed %d (-Dlivemig.fuzz.case=%d), from %s: %s%n    -> %s (input kept in %s)",
                        caseSeed, caseSeed, c.base(), c.what(), v.problem(), kept));
                if (v.outcome() == null) {
                    break; // the worker is stuck: stop here
                }
                continue;
            }
            if (v.outcome().succeeded()) {
                ok++;
            } else {
                endings.merge(kind(v.outcome().error().getMessage()), 1, Integer::sum);
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("loader fuzz: run seed %d, %d cases in %.1f s, %d loaded, failures by kind %s%n",
                RUN_SEED, n, secs, ok, endings);
        assertThat(problems).as("run seed %d (-Dlivemig.fuzz.seed=%d): cases that broke a rule", RUN_SEED, RUN_SEED)
                .isEmpty();
    }

    /** The failure messages, numbers and names folded, to show how deep the mutations reach. */
    private static String kind(String msg) {
        int colon = msg.lastIndexOf(": ");
        String head = colon > 0 ? msg.substring(colon + 2) : msg;
        String[] words = head.replaceAll("[^A-Za-z_ ]", "").strip().split(" +");
        head = String.join(" ", java.util.Arrays.copyOf(words, Math.min(3, words.length)));
        return head;
    }

    /**
     * A million PINGs after OPEN_RETURN_PATH: each is answered with a PONG, the whole load ends
     * within the time bound, and the loader's allocation grows with the input (a PONG frame per
     * PING), not with any length the stream states.
     */
    @Test
    void aMillionPingsEndWithinTheTimeBound() throws Exception {
        byte[] rp = seeds.stream().filter(s -> s.name().equals("return-path")).findFirst().orElseThrow().bytes();
        int pings = 1_000_000;
        ByteArrayOutputStream o = new ByteArrayOutputStream(rp.length + pings * 9);
        o.write(rp, 0, 17 + 5);
        byte[] ping = FuzzSeeds.ping(7);
        for (int i = 0; i < pings; i++) {
            o.write(ping, 0, ping.length);
        }
        o.write(rp, 17 + 5, rp.length - 17 - 5);
        long perPing = 256;
        FuzzHarness.Verdict v = harness.run(o.toByteArray(), MigrationInput.DEFAULT_BUFFER_SIZE, perPing * pings);
        assertThat(v.problem()).isNull();
        assertThat(v.outcome().error()).isNull();
        assertThat(v.outcome().returnBytes()).isEqualTo(8L * (pings + 2));
    }

    @Test
    void returnPathCommandsOnATransportWithoutOneFail() {
        byte[] rp = seeds.stream().filter(s -> s.name().equals("return-path")).findFirst().orElseThrow().bytes();
        SavevmLoader loader = new SavevmLoader(new HandlerRegistry(), new MigrationCapabilities(), "none", null);
        assertThatThrownBy(() -> loader.load(new MigrationInput(Channels.newChannel(new ByteArrayInputStream(rp)))))
                .hasMessageContaining("OPEN_RETURN_PATH received, but this transport has no return path");
        byte[] pingFirst = Mutator.splice(rp, 17, 17 + 5, new byte[0]);
        SavevmLoader l2 = new SavevmLoader(new HandlerRegistry(), new MigrationCapabilities(), "none",
                new FuzzDestination.CountingSink());
        assertThatThrownBy(() -> l2.load(new MigrationInput(Channels.newChannel(new ByteArrayInputStream(pingFirst)))))
                .hasMessageContaining("PING (1) received with no return path open");
        assertThat(pingFirst[17]).isEqualTo((byte) SectionType.COMMAND);
    }
}
