package io.livemig.bench.scenario;

/**
 * One migration run's figures. A run that failed or whose destination RAM did not equal the
 * source's has {@code ok == false} and an {@code error}; its figures are not summarised.
 *
 * @param implementation livemig or QEMU
 * @param content        the guest RAM content
 * @param variant        channels and, with multifd, compression
 * @param run            1-based run number within the scenario and implementation
 * @param ok             migrated, completed on both sides, and the destination RAM verified
 * @param error          why not, or null
 * @param seconds        from the {@code migrate} command to the destination's {@code completed}
 * @param downtimeMs     the source's {@code downtime} from {@code query-migrate}
 * @param srcTotalMs     the source's {@code total-time}: migrate to the source's {@code completed}
 * @param wireBytes      the source's {@code ram.transferred}
 * @param normalPages    the source's {@code ram.normal} (pages sent whole)
 * @param zeroPages      the source's {@code ram.duplicate} (zero pages)
 * @param srcCpuSeconds  source process utime+stime during the migration
 * @param dstCpuSeconds  destination process utime+stime during the migration
 * @param srcPeakRss     source VmHWM at the end, bytes
 * @param dstPeakRss     destination VmHWM at the end, bytes
 */
public record RunResult(Implementation implementation, RamContent content, Variant variant, int run, boolean ok, String error,
                        double seconds, double downtimeMs, double srcTotalMs, long wireBytes, long normalPages, long zeroPages,
                        double srcCpuSeconds, double dstCpuSeconds, long srcPeakRss, long dstPeakRss) {

    static RunResult failed(Implementation impl, RamContent content, Variant variant, int run, String error) {
        return new RunResult(impl, content, variant, run, false, error, Double.NaN, Double.NaN, Double.NaN, -1, -1, -1,
                Double.NaN, Double.NaN, -1, -1);
    }

    /** The {@code multifd-compression} of a multifd run, or null without multifd. */
    public String compression() {
        return variant.compression();
    }

    /** Wire bytes per second over {@link #seconds}. */
    public double throughput() {
        return wireBytes / seconds;
    }

    /** Guest RAM bytes per second over {@link #seconds}, whatever the wire carried. */
    public double ramRate(long ramBytes) {
        return ramBytes / seconds;
    }
}
