package io.livemig.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class GuestMemoryTest {

    @Test
    void keepsBlocksInOrderFindsThemAndRejectsDuplicates() {
        RamBlock a = RamBlock.anonymous("pc.ram", 4 * 4096, false);
        RamBlock b = RamBlock.anonymous("vga.vram", 4096, false);
        RamBlock dup = RamBlock.anonymous("pc.ram", 4096, false);
        try (GuestMemory mem = new GuestMemory(); dup) {
            mem.add(a);
            mem.add(b);
            assertThat(mem.blocks()).containsExactly(a, b);
            assertThat(mem.find("vga.vram")).isSameAs(b);
            assertThat(mem.find("nope")).isNull();
            assertThat(mem.totalBytes()).isEqualTo(5 * 4096);
            assertThatThrownBy(() -> mem.add(dup))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("duplicate RAM block id 'pc.ram'");
            assertThat(mem.blocks()).hasSize(2);
            assertThatThrownBy(() -> mem.blocks().clear()).isInstanceOf(UnsupportedOperationException.class);
        }
        assertThatThrownBy(() -> a.writeLong(0, 1)).as("closed with the memory").isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> b.writeLong(0, 1)).isInstanceOf(IllegalStateException.class);
    }
}
