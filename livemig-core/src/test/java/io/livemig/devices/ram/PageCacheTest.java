package io.livemig.devices.ram;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** QEMU's page cache: slot choice, insertion, lookup and the lifetime that protects fresh pages. */
class PageCacheTest {

    private static final int PAGE = 4096;
    private final Arena arena = Arena.ofConfined();
    private final PageCache cache = new PageCache(16 * PAGE, PAGE);

    @AfterEach
    void close() {
        cache.close();
        arena.close();
    }

    private MemorySegment page(int value) {
        MemorySegment p = arena.allocate(PAGE);
        p.fill((byte) value);
        return p;
    }

    private byte cachedByte(long address) {
        return cache.data().get(ValueLayout.JAVA_BYTE, cache.offsetOf(address));
    }

    @Test
    void slotsAreAPowerOfTwoOfPages() {
        assertThat(cache.slots()).isEqualTo(16);
        assertThatThrownBy(() -> new PageCache(3 * PAGE, PAGE)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PageCache(PAGE / 2, PAGE)).isInstanceOf(IllegalArgumentException.class);
        try (PageCache one = new PageCache(PAGE, PAGE)) {
            assertThat(one.slots()).isEqualTo(1);
        }
    }

    @Test
    void anInsertedPageIsFoundWithItsBytes() {
        assertThat(cache.isCached(5 * PAGE, 0)).isFalse();
        assertThat(cache.insert(5 * PAGE, page(0x42), 0, 0)).isTrue();
        assertThat(cache.isCached(5 * PAGE, 0)).isTrue();
        assertThat(cachedByte(5 * PAGE)).isEqualTo((byte) 0x42);
        assertThat(cache.isCached(6 * PAGE, 0)).as("neighbour").isFalse();
        // the same address again overwrites, whatever its age
        assertThat(cache.insert(5 * PAGE, page(0x43), 0, 0)).isTrue();
        assertThat(cachedByte(5 * PAGE)).isEqualTo((byte) 0x43);
        assertThat(cache.insertZero(5 * PAGE, 0)).isTrue();
        assertThat(cachedByte(5 * PAGE)).isZero();
    }

    @Test
    void addressesOneCacheApartShareASlot() {
        long a = 3L * PAGE;
        long b = a + 16L * PAGE;
        assertThat(cache.offsetOf(a)).isEqualTo(cache.offsetOf(b));
        assertThat(cache.offsetOf(a)).isNotEqualTo(cache.offsetOf(a + PAGE));
        cache.insert(a, page(1), 0, 0);
        assertThat(cache.isCached(b, 0)).isFalse();
    }

    @Test
    void aFreshPageIsNotEvictedForTwoSyncs() {
        long a = 3L * PAGE;
        long b = a + 16L * PAGE;
        assertThat(cache.insert(a, page(1), 0, 10)).isTrue();
        assertThat(cache.insert(b, page(2), 0, 10)).as("same sync").isFalse();
        assertThat(cache.insert(b, page(2), 0, 11)).as("one sync later").isFalse();
        assertThat(cache.insertZero(b, 11)).as("zero page, one sync later").isFalse();
        assertThat(cache.isCached(a, 11)).isTrue();
        assertThat(cachedByte(a)).isEqualTo((byte) 1);
        // the hit at 11 renewed a's age: 12 is still within its lifetime, 13 is not
        assertThat(cache.insert(b, page(2), 0, 12)).isFalse();
        assertThat(cache.insert(b, page(2), 0, 13)).isTrue();
        assertThat(cache.isCached(a, 13)).isFalse();
        assertThat(cache.isCached(b, 13)).isTrue();
        assertThat(cachedByte(b)).isEqualTo((byte) 2);
    }
}
