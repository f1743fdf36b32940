package io.livemig.guest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PageSizeTest {

    @Test
    void constantsMatchQemu4k() {
        assertThat(PageSize.TARGET_PAGE_BITS).isEqualTo(12);
        assertThat(PageSize.TARGET_PAGE_SIZE).isEqualTo(4096);
        assertThat(PageSize.TARGET_PAGE_MASK).isEqualTo(0xFFFF_FFFF_FFFF_F000L);
        assertThat(0x12345L & PageSize.TARGET_PAGE_MASK).isEqualTo(0x12000L);
        assertThat(PageSize.pageOf(8191)).isEqualTo(1);
        assertThat(PageSize.offsetOf(3)).isEqualTo(12288);
        assertThat(PageSize.isAligned(8192)).isTrue();
        assertThat(PageSize.isAligned(1000)).isFalse();
    }
}
