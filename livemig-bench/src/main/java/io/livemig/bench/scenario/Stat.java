package io.livemig.bench.scenario;

import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * Median and range of one figure over the successful runs.
 *
 * @param median the middle value (mean of the two middle ones for an even count)
 * @param min    the smallest
 * @param max    the largest
 * @param n      how many runs, 0 when none succeeded (then the others are NaN)
 */
public record Stat(double median, double min, double max, int n) {

    static Stat of(List<RunResult> runs, ToDoubleFunction<RunResult> figure) {
        double[] v = runs.stream().filter(RunResult::ok).mapToDouble(figure).sorted().toArray();
        if (v.length == 0) {
            return new Stat(Double.NaN, Double.NaN, Double.NaN, 0);
        }
        return new Stat(median(v), v[0], v[v.length - 1], v.length);
    }

    static Stat ofValues(double... values) {
        double[] v = values.clone();
        Arrays.sort(v);
        if (v.length == 0) {
            return new Stat(Double.NaN, Double.NaN, Double.NaN, 0);
        }
        return new Stat(median(v), v[0], v[v.length - 1], v.length);
    }

    private static double median(double[] sorted) {
        int m = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    /** This median divided by {@code other}'s. */
    double ratio(Stat other) {
        return median / other.median;
    }
}
