package io.livemig.cli.demo;

import io.livemig.cli.testing.VmProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code livemig demo} runs two real guest processes, migrates over TCP and verifies the RAM. */
class DemoIT {

    @Test
    @Timeout(180)
    void demoMigratesALiveGuestAndVerifiesTheResult(@TempDir Path dir) throws Exception {
        VmProcess.Exit exit = VmProcess.run(dir, Duration.ofSeconds(170),
                "demo", "--size", "256M", "--dirty-rate", "16M", "--seed", "5");
        assertThat(exit.output()).contains("migration completed in")
                .contains("run states   source postmigrate, destination running")
                .contains("verified: destination RAM equals source RAM at switchover (268435456 bytes, block mem0)");
        assertThat(exit.status()).as(exit.output()).isZero();
    }

    @Test
    @Timeout(60)
    void badOptionsAreNamed(@TempDir Path dir) throws Exception {
        VmProcess.Exit exit = VmProcess.run(dir, Duration.ofSeconds(50), "demo", "--size", "12X");
        assertThat(exit.status()).isEqualTo(1);
        assertThat(exit.output()).contains("--size: invalid size '12X'");
    }
}
