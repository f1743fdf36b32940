package io.livemig.multifd;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The seeded mutation fuzzer of the destination's multifd channels: init-packet classification
 * ({@link MultifdLink#acceptAll}) and the receivers ({@link MultifdRecvGroup}, {@link MultifdReceiver},
 * the zlib and zstd codecs), fed with mutations ({@link MultifdMutator}) of real sender output for
 * every compression method ({@link MultifdFuzzSeeds}); each case judged by {@link MultifdFuzzHarness}.
 *
 * <p>{@code -Dlivemig.fuzz.multifd-iterations=N} (default 2000) and
 * {@code -Dlivemig.fuzz.multifd-init-iterations=N} (default 1500) set the case counts,
 * {@code -Dlivemig.fuzz.seed=S} the run's seed; a failing case prints its own seed, which
 * {@code -Dlivemig.fuzz.case=S} replays alone (in both tests). Failing inputs are kept under
 * {@code target/fuzz-failures-multifd/} in the corpus format; once fixed, they go to
 * {@code src/test/resources/fuzz-corpus-multifd/} ({@link MultifdFuzzCorpusTest}).
 */
@Timeout(240)
class MultifdFuzzTest {

    static final long RUN_SEED = Long.getLong("livemig.fuzz.seed", new SplittableRandom().nextLong());
    static final int ITERATIONS = Integer.getInteger("livemig.fuzz.multifd-iterations", 2000);
    static final int INIT_ITERATIONS = Integer.getInteger("livemig.fuzz.multifd-init-iterations", 1500);

    @TempDir
    static Path dir;
    static List<MultifdFuzzSeeds.Seed> seeds;
    static MultifdFuzzHarness harness;

    @BeforeAll
    static void buildSeeds() throws Exception {
        seeds = MultifdFuzzSeeds.build(dir);
        harness = new MultifdFuzzHarness();
        StringBuilder sb = new StringBuilder();
        for (MultifdFuzzSeeds.Seed s : seeds) {
            sb.append(String.format(" %s: %d+%d bytes, %d+%d packets;", s.name(), s.channels().get(0).length,
                    s.channels().get(1).length, s.packets().get(0).length, s.packets().get(1).length));
        }
        System.out.println("multifd fuzz seeds:" + sb);
    }

    @AfterAll
    static void close() {
        if (harness != null) {
            harness.close();
        }
    }

    @Test
    void everySeedLoadsUnmutatedWithTheSourcesRam() throws Exception {
        for (MultifdFuzzSeeds.Seed s : seeds) {
            for (boolean scattering : new boolean[] {true, false}) {
                harness.fill((byte) 0xee);
                List<byte[]> conns = new ArrayList<>(s.channels());
                conns.add(scattering ? 0 : conns.size(), MultifdFuzzHarness.mainStream());
                MultifdFuzzHarness.Verdict v = harness.run(new MultifdFuzzHarness.Input(s.compression(),
                        MultifdFuzzSeeds.CHANNELS, conns, s.flushes(), scattering ? 1 << 20 : 1000, scattering));
                assertThat(v.problem()).as("seed %s", s.name()).isNull();
                assertThat(v.outcome().error()).as("seed %s", s.name()).isNull();
                assertThat(v.outcome().stage()).isEqualTo("loaded");
                assertThat(v.outcome().allocated()).as("the allocation measurement works").isPositive();
                assertThat(harness.content("pc.ram")).as("pc.ram after seed %s", s.name()).isEqualTo(s.ram());
                assertThat(harness.content("vga.vram")).as("vga.vram after seed %s", s.name()).isEqualTo(s.vram());
            }
            for (int c = 0; c < MultifdFuzzSeeds.CHANNELS; c++) {
                assertThat(s.packets().get(c).length).as("packets on channel %d of %s", c, s.name())
                        .isGreaterThanOrEqualTo(3);
            }
        }
    }

    @Test
    void mutatedChannelStreamsEndCleanlyInTimeWithinTheGuest() throws Exception {
        MultifdMutator m = new MultifdMutator(seeds);
        fuzz("multifd channel fuzz", ITERATIONS, m::mutate);
    }

    /**
     * The mutator alone, on more cases than a run feeds the harness: every case stays within a
     * few times its seed's size. A mutation that read a length from an already-mutated field
     * once asked for a 2 GiB array and ended a CI run with OutOfMemoryError.
     */
    @Test
    void theMutatorKeepsEveryCaseSmall() {
        MultifdMutator m = new MultifdMutator(seeds);
        SplittableRandom run = new SplittableRandom(RUN_SEED ^ 0x5eed);
        long largestSeed = seeds.stream().mapToLong(s -> s.channels().stream().mapToLong(b -> b.length).sum()).max().orElseThrow();
        for (int i = 0; i < 3 * ITERATIONS; i++) {
            long caseSeed = run.nextLong();
            MultifdMutator.Case c = m.mutate(caseSeed);
            long bytes = c.input().connections().stream().mapToLong(b -> b.length).sum();
            assertThat(bytes).as("bytes of case %d (-Dlivemig.fuzz.case=%d): %s", caseSeed, caseSeed, c.what())
                    .isLessThanOrEqualTo(16 * largestSeed);
        }
    }

    @Test
    void mutatedInitPacketsAreClassifiedOrRefusedCleanly() throws Exception {
        MultifdMutator m = new MultifdMutator(seeds);
        fuzz("multifd init fuzz", INIT_ITERATIONS, m::mutateInit);
    }

    private static void fuzz(String title, int iterations, java.util.function.LongFunction<MultifdMutator.Case> gen)
            throws InterruptedException {
        Long only = Long.getLong("livemig.fuzz.case");
        int n = only != null ? 1 : iterations;
        SplittableRandom run = new SplittableRandom(RUN_SEED ^ title.hashCode());
        List<String> problems = new ArrayList<>();
        Map<String, Integer> endings = new TreeMap<>();
        int ok = 0;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long caseSeed = only != null ? only : run.nextLong();
            MultifdMutator.Case c = gen.apply(caseSeed);
            MultifdFuzzHarness.Verdict v = harness.run(c.input());
            if (v.problem() != null) {
                Path kept = MultifdFuzzHarness.keep("case-" + Long.toUnsignedString(caseSeed, 16) + ".hex", c.input());
                problems.add(String.format("case seed %d (-Dlivemig.fuzz.case=%d), from %s: %s%n    -> %s%s (input kept in %s)",
                        caseSeed, caseSeed, c.base(), c.what(), v.problem(),
                        v.outcome() == null ? "" : " at " + v.outcome().stage() + ": " + v.outcome().error(), kept));
                if (problems.size() >= 20) {
                    break;
                }
                continue;
            }
            if (v.outcome().error() == null) {
                ok++;
            } else {
                endings.merge(kind(v.outcome().error().getMessage()), 1, Integer::sum);
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("%s: run seed %d, %d cases in %.1f s, %d loaded, failures by kind %s%n",
                title, RUN_SEED, n, secs, ok, endings);
        assertThat(problems).as("run seed %d (-Dlivemig.fuzz.seed=%d): cases that broke a rule", RUN_SEED, RUN_SEED)
                .isEmpty();
    }

    /** The failure messages, numbers and names folded, to show how deep the mutations reach. */
    static String kind(String msg) {
        String head = msg.replaceFirst("^multifd channel \\d+: ", "").replaceFirst("^multifd: ", "");
        String[] words = head.replaceAll("[^A-Za-z_ ]", "").strip().split(" +");
        return String.join(" ", java.util.Arrays.copyOf(words, Math.min(3, words.length)));
    }
}
