package io.livemig.vm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class PagePathWarmupTest {

    private static boolean migrationThreadsAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && (t.getName().equals("migration") || t.getName().equals("incoming")));
    }

    @Test
    @Timeout(120)
    void runsEveryRoundWithVerifiedRamAndLeavesNoFilesOrThreads(@TempDir Path root) throws Exception {
        long threadsBefore = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).count();
        java.util.Set<VirtualMachine> polled = java.util.concurrent.ConcurrentHashMap.newKeySet();
        PagePathWarmup.Result r = PagePathWarmup.run(4L << 20, 3, root, polled::add);
        assertThat(r.rounds()).isEqualTo(3);
        assertThat(r.elapsed()).isPositive();
        assertThat(polled).as("machines the observer saw: one source, three destinations").hasSizeLessThanOrEqualTo(4);
        try (var left = Files.list(root)) {
            assertThat(left.toList()).as("the warm-up's scratch directory and RAM files").isEmpty();
        }
        InProcessMigrationTest.await(() -> !migrationThreadsAlive(), Duration.ofSeconds(10),
                "the warm-up's migration threads to end");
        long threadsAfter = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).count();
        assertThat(threadsAfter).as("live threads after the warm-up (before: %d)", threadsBefore)
                .isLessThanOrEqualTo(threadsBefore + 2);
    }
}
