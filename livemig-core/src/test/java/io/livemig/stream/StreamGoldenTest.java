package io.livemig.stream;

import org.junit.jupiter.api.Test;

import java.io.EOFException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static io.livemig.stream.StreamBytes.hex;
import static io.livemig.stream.StreamBytes.input;
import static io.livemig.stream.StreamBytes.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Golden byte vectors for each record layout. The vectors were cut from a stream that QEMU 7.2
 * ({@code -machine none,memory-backend=mem0 -m 16M}, paused) wrote to a file; each is checked
 * against the layout in the reference (section 4) and written and parsed both ways.
 */
class StreamGoldenTest {

    /** header + configuration "none" */
    static final String HEADER_CONFIG = "5145564d 00000003 07 00000004 6e6f6e65";
    /** FULL "timer" id 0 v2, all-zero payload (guest never ran), footer */
    static final String TIMER_FULL = "04 00000000 05 74696d6572 00000000 00000002"
            + " 0000000000000000 0000000000000000 0000000000000000 7e 00000000";
    /** START "ram" id 2 v4 header */
    static final String RAM_START_HEADER = "01 00000002 03 72616d 00000000 00000004";
    /** PART / END id 2 headers and a footer */
    static final String RAM_PART_HEADER = "02 00000002";
    static final String RAM_END_HEADER = "03 00000002";
    static final String FOOTER_2 = "7e 00000002";

    @Test
    void headerAndConfiguration() throws Exception {
        byte[] b = write(out -> {
            StreamHeaderDescriptor.write(out);
            ConfigurationSection.write(out, "none", Optional.empty());
        });
        assertThat(hex(b)).isEqualTo(hex(StreamBytes.hex(HEADER_CONFIG)));
        MigrationInput in = input(b);
        StreamHeaderDescriptor.read(in);
        ConfigurationSection.Configuration c = ConfigurationSection.read(in);
        assertThat(c.machine()).isEqualTo("none");
        assertThat(c.uuid()).isEmpty();
        assertThat(in.position()).isEqualTo(b.length);
    }

    @Test
    void configurationWithUuidSubsection() throws Exception {
        UUID u = UUID.fromString("11111111-2222-3333-4444-555555555555");
        byte[] b = write(out -> ConfigurationSection.write(out, "none", Optional.of(u)));
        String name = hex("configuration/uuid".getBytes(StandardCharsets.US_ASCII));
        assertThat(hex(b)).isEqualTo("07000000046e6f6e65" + "05" + "12" + name + "00000001" + "11111111222233334444555555555555");
        assertThat(ConfigurationSection.read(input(b)).uuid()).contains(u);
    }

    @Test
    void badMagicAndVersionsAreRefusedWithQemuMessages() {
        assertThatThrownBy(() -> StreamHeaderDescriptor.read(input(StreamBytes.hex("5145564e00000003"))))
                .hasMessageContaining("Not a migration stream");
        assertThatThrownBy(() -> StreamHeaderDescriptor.read(input(StreamBytes.hex("5145564d00000002"))))
                .hasMessageContaining("SaveVM v2 format is obsolete");
        assertThatThrownBy(() -> StreamHeaderDescriptor.read(input(StreamBytes.hex("5145564d00000004"))))
                .hasMessageContaining("Unsupported migration stream version 4");
    }

    @Test
    void sectionHeadersAndFooter() throws Exception {
        byte[] b = write(out -> {
            SectionHeaderDescriptor.writeFull(out, SectionType.SECTION_START, 2, "ram", 0, 4);
            SectionHeaderDescriptor.writeShort(out, SectionType.SECTION_PART, 2);
            SectionHeaderDescriptor.writeShort(out, SectionType.SECTION_END, 2);
            SectionFooterDescriptor.write(out, 2);
        });
        assertThat(hex(b)).isEqualTo(hex(StreamBytes.hex(RAM_START_HEADER + RAM_PART_HEADER + RAM_END_HEADER + FOOTER_2)));
        MigrationInput in = input(b);
        assertThat(in.getU8()).isEqualTo(SectionType.SECTION_START);
        assertThat(SectionHeaderDescriptor.readFull(in, SectionType.SECTION_START))
                .isEqualTo(new SectionHeaderDescriptor.Full(SectionType.SECTION_START, 2, "ram", 0, 4));
        assertThat(in.getU8()).isEqualTo(SectionType.SECTION_PART);
        assertThat(in.getBe32()).isEqualTo(2);
        assertThat(in.getU8()).isEqualTo(SectionType.SECTION_END);
        assertThat(in.getBe32()).isEqualTo(2);
        SectionFooterDescriptor.check(in, 2, "ram");
    }

    @Test
    void footerMismatchNamesTheSection() {
        assertThatThrownBy(() -> SectionFooterDescriptor.check(input(StreamBytes.hex("7e00000003")), 2, "ram"))
                .hasMessage("Mismatched section id in footer for ram - read 0x3 expected 0x2");
        assertThatThrownBy(() -> SectionFooterDescriptor.check(input(StreamBytes.hex("0000000002")), 2, "ram"))
                .hasMessageContaining("Missing section footer for ram");
    }

    @Test
    void commandsAndReturnPathMessages() throws Exception {
        byte[] b = write(out -> {
            CommandDescriptor.writeOpenReturnPath(out);
            CommandDescriptor.writePing(out, 1);
        });
        assertThat(hex(b)).isEqualTo("08" + "0001" + "0000" + "08" + "0002" + "0004" + "00000001");
        MigrationInput in = input(b);
        in.getU8();
        assertThat(CommandDescriptor.readHeader(in)).isEqualTo(new CommandDescriptor.Header(1, 0));
        in.getU8();
        CommandDescriptor.Header ping = CommandDescriptor.readHeader(in);
        CommandDescriptor.checkLength(ping, CommandDescriptor.PING_LENGTH);
        assertThat(in.getBe32()).isEqualTo(1);

        assertThat(hex(ReturnPathDescriptor.encodeBe32(ReturnPathDescriptor.SHUT, 0).array())).isEqualTo("0001000400000000");
        assertThat(hex(ReturnPathDescriptor.encodeBe32(ReturnPathDescriptor.PONG, 1).array())).isEqualTo("0002000400000001");
        assertThat(hex(ReturnPathDescriptor.encodeEmpty(ReturnPathDescriptor.SWITCHOVER_ACK).array())).isEqualTo("00070000");
        ReturnPathDescriptor.Message m = ReturnPathDescriptor.read(
                java.nio.channels.Channels.newChannel(new java.io.ByteArrayInputStream(StreamBytes.hex("0002000400000001"))));
        assertThat(m.type()).isEqualTo(ReturnPathDescriptor.PONG);
        assertThat(m.be32()).isEqualTo(1);
    }

    @Test
    void returnPathRejectsWrongFixedLengths() {
        assertThatThrownBy(() -> ReturnPathDescriptor.read(java.nio.channels.Channels.newChannel(
                new java.io.ByteArrayInputStream(StreamBytes.hex("00010003000000")))))
                .hasMessageContaining("incorrect length 3 expecting 4");
        assertThatThrownBy(() -> CommandDescriptor.checkLength(new CommandDescriptor.Header(CommandDescriptor.PING, 5), 4))
                .hasMessageContaining("PING received with bad length - expecting 4, got 5");
    }

    @Test
    void vmdescIsQemusJsonByteForByte() {
        VmdescWriter w = new VmdescWriter(4096);
        w.addDevice("timer", 0, "timer", 2, List.of(new VmdescWriter.Field("cpu_ticks_offset", "int64", 8),
                new VmdescWriter.Field("unused", "unused_buffer", 8), new VmdescWriter.Field("cpu_clock_offset", "int64", 8)));
        w.addDevice("globalstate", 0, "globalstate", 1, List.of(new VmdescWriter.Field("size", "uint32", 4),
                new VmdescWriter.Field("runstate", "buffer", 100)));
        // as QEMU 7.2 wrote it for -machine none
        assertThat(w.json()).isEqualTo("{\"page_size\": 4096, \"devices\": [{\"name\": \"timer\", \"instance_id\": 0, "
                + "\"vmsd_name\": \"timer\", \"version\": 2, \"fields\": [{\"name\": \"cpu_ticks_offset\", \"type\": \"int64\", "
                + "\"size\": 8}, {\"name\": \"unused\", \"type\": \"unused_buffer\", \"size\": 8}, {\"name\": "
                + "\"cpu_clock_offset\", \"type\": \"int64\", \"size\": 8}]}, {\"name\": \"globalstate\", \"instance_id\": 0, "
                + "\"vmsd_name\": \"globalstate\", \"version\": 1, \"fields\": [{\"name\": \"size\", \"type\": \"uint32\", "
                + "\"size\": 4}, {\"name\": \"runstate\", \"type\": \"buffer\", \"size\": 100}]}]}");
        assertThat(w.json().length()).isEqualTo(486);
        assertThat(w.json()).doesNotContain("\0");
    }

    @Test
    void truncatedInputFailsWithTheOffset() {
        MigrationInput in = input(StreamBytes.hex("5145564d0000"));
        assertThatThrownBy(() -> StreamHeaderDescriptor.read(in))
                .isInstanceOf(EOFException.class)
                .hasMessageContaining("after 6 bytes");
    }

    @Test
    void outputLatchesTheFirstErrorAndCountsBytes() {
        MigrationOutput out = new MigrationOutput(new java.nio.channels.WritableByteChannel() {
            @Override
            public int write(java.nio.ByteBuffer src) throws java.io.IOException {
                throw new java.io.IOException("peer gone");
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {
            }
        }, 8192);
        out.putBe64(1);
        assertThat(out.transferred()).isEqualTo(8);
        out.flush();
        assertThat(out.hasError()).isTrue();
        assertThat(out.error()).hasMessage("peer gone");
        out.putBe64(2);
        out.flush();
        assertThat(out.transferred()).isEqualTo(8);
        assertThat(out.error()).hasMessage("peer gone");
    }

    @Test
    void largePayloadsCrossBufferBoundaries() throws Exception {
        byte[] big = new byte[100_000];
        new java.util.SplittableRandom(7).nextBytes(big);
        byte[] b = write(out -> {
            out.putU8(1);
            out.putBytes(big);
            out.putBe64(0x0102030405060708L);
        });
        MigrationInput in = input(b);
        assertThat(in.getU8()).isEqualTo(1);
        byte[] back = new byte[big.length];
        in.getBytes(back);
        assertThat(back).isEqualTo(big);
        assertThat(in.getBe64()).isEqualTo(0x0102030405060708L);
        assertThat(in.peekU8()).isEqualTo(-1);
    }
}
