package io.livemig.devices.vfio;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VfioSimPropertiesTest {

    @Test
    void defaultsAndSuffixes() {
        assertThat(VfioSimProperties.parse("v", Map.of())).isEqualTo(VfioSimProperties.DEFAULTS);
        VfioSimProperties p = VfioSimProperties.parse("v", Map.of("initial-bytes", "32M", "dirty-rate", "4k",
                "stop-copy-bytes", "2G", "precopy", "off", "seed", "-3"));
        assertThat(p).isEqualTo(new VfioSimProperties(32L << 20, 4096, 2L << 30, false, -3));
    }

    @Test
    void everyBadValueNamesItsPropertyAndRule() {
        assertThatThrownBy(() -> VfioSimProperties.parse("v", Map.of("bogus", "1")))
                .hasMessage("vfio-sim 'v': unknown property 'bogus' (known: initial-bytes, dirty-rate, stop-copy-bytes, precopy, seed)");
        assertThatThrownBy(() -> VfioSimProperties.parse("v", Map.of("initial-bytes", "65G")))
                .hasMessageContaining("initial-bytes must be a size 0..64G").hasMessageContaining("got '65G'");
        assertThatThrownBy(() -> VfioSimProperties.parse("v", Map.of("stop-copy-bytes", "-1")))
                .hasMessageContaining("stop-copy-bytes must be a size 0..64G");
        assertThatThrownBy(() -> VfioSimProperties.parse("v", Map.of("dirty-rate", "5G")))
                .hasMessageContaining("dirty-rate must be a size 0..4G");
        assertThatThrownBy(() -> VfioSimProperties.parse("v", Map.of("dirty-rate", "1.5M")))
                .hasMessageContaining("dirty-rate must be a size");
        assertThatThrownBy(() -> VfioSimProperties.parse("v", Map.of("precopy", "maybe")))
                .hasMessage("vfio-sim 'v': precopy must be on or off, got 'maybe'");
        assertThatThrownBy(() -> VfioSimProperties.parse("v", Map.of("seed", "x")))
                .hasMessage("vfio-sim 'v': seed must be a 64-bit integer, got 'x'");
    }
}
