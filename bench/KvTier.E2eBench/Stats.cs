namespace KvTier.E2eBench;

/// <summary>Median and p90 of a set of samples (milliseconds), with the samples kept for the JSON.</summary>
internal sealed record Timing(double MedianMs, double P90Ms, double MinMs, double[] SamplesMs)
{
    public static Timing Of(IReadOnlyList<double> samples)
    {
        double[] sorted = [.. samples.Order()];
        return new Timing(Quantile(sorted, 0.5), Quantile(sorted, 0.9), sorted[0], [.. samples]);
    }

    public static double Median(IEnumerable<double> samples) => Quantile([.. samples.Order()], 0.5);

    // Linear interpolation between the nearest ranks.
    private static double Quantile(double[] sorted, double q)
    {
        double index = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(index);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (index - lo);
    }
}

/// <summary>Least-squares line y = Intercept + Slope · x.</summary>
internal readonly record struct LinearFit(double Intercept, double Slope)
{
    public static LinearFit Of(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0;
        for (int i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        double slope = sxx == 0 ? 0 : sxy / sxx;
        return new LinearFit(my - slope * mx, slope);
    }
}
