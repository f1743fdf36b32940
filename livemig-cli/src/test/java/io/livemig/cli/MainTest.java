package io.livemig.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

class MainTest {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void versionPrintsTheVersion() {
        assertThat(run("version")).isZero();
        assertThat(out.toString()).startsWith("livemig ");
    }

    @Test
    void vmOptionsReachTheQemuParserVerbatim() {
        assertThat(run("vm", "-m", "12X")).isEqualTo(1);
        assertThat(err.toString()).contains("livemig vm: -m: invalid size '12X' (use k, M, G or T suffixes)");
    }

    @Test
    void unknownVmOptionExits1NamingIt() {
        assertThat(run("vm", "-machine", "none", "--frobnicate")).isEqualTo(1);
        assertThat(err.toString()).contains("-frobnicate: invalid option");
    }

    @Test
    void unknownCommandExits1() {
        assertThat(run("frob")).isEqualTo(1);
        assertThat(err.toString()).contains("frob");
    }

    @Test
    void helpExits0() {
        assertThat(run("help")).isZero();
        assertThat(out.toString()).contains("vm").contains("version");
    }
}
