package io.livemig.devices.ram;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;

class ZeroPageTest {

    @Test
    void aZeroPageIsZeroAndAnyNonZeroByteAnywhereMakesItNot() {
        try (Arena arena = Arena.ofConfined()) {
            // three pages; the middle one is checked, its neighbours are dirty to catch overruns
            MemorySegment seg = arena.allocate(3L * ZeroPage.PAGE, ZeroPage.PAGE);
            seg.fill((byte) 0x5a);
            long page = ZeroPage.PAGE;
            seg.asSlice(page, ZeroPage.PAGE).fill((byte) 0);
            assertThat(ZeroPage.isZero(seg, page)).isTrue();
            for (int i = 0; i < ZeroPage.PAGE; i++) {
                seg.set(java.lang.foreign.ValueLayout.JAVA_BYTE, page + i, (byte) 0x80);
                assertThat(ZeroPage.isZero(seg, page)).as("non-zero byte at %d", i).isFalse();
                seg.set(java.lang.foreign.ValueLayout.JAVA_BYTE, page + i, (byte) 0);
            }
            assertThat(ZeroPage.isZero(seg, 0)).isFalse();
            assertThat(ZeroPage.isZero(seg, 2 * page)).isFalse();
        }
    }

    @Test
    void anUnalignedOffsetIsCheckedByteForByte() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * ZeroPage.PAGE + 8);
            assertThat(ZeroPage.isZero(seg, 3)).isTrue();
            seg.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 3 + ZeroPage.PAGE - 1, (byte) 1);
            assertThat(ZeroPage.isZero(seg, 3)).isFalse();
            assertThat(ZeroPage.isZero(seg, 3 + ZeroPage.PAGE)).isTrue();
        }
    }
}
