using System.Diagnostics;
using System.Text.Json.Nodes;

namespace KvTier.GpuCheck;

/// <summary>The median time of one iteration of a measured action, and the rates it gives.</summary>
internal readonly record struct Timing(double MedianSeconds, double MinSeconds, int Iterations)
{
    /// <summary>Runs <paramref name="iteration"/> once to warm up, then until <paramref name="budgetSeconds"/> have passed (at least 3 times).</summary>
    public static Timing Measure(Action iteration, double budgetSeconds)
    {
        iteration();
        var samples = new List<double>();
        long start = Stopwatch.GetTimestamp();
        while (samples.Count < 3 || (Stopwatch.GetElapsedTime(start).TotalSeconds < budgetSeconds && samples.Count < 1_000_000))
        {
            long t0 = Stopwatch.GetTimestamp();
            iteration();
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }

        samples.Sort();
        return new Timing(samples[samples.Count / 2], samples[0], samples.Count);
    }

    /// <summary>The timing as JSON, with elements/s and GB/s of decoded fp16 KV (2 bytes per element) per iteration of <paramref name="elements"/>.</summary>
    public JsonObject ToJson(long elements, string? method = null)
    {
        var json = new JsonObject
        {
            ["medianMicroseconds"] = Math.Round(MedianSeconds * 1e6, 2),
            ["minMicroseconds"] = Math.Round(MinSeconds * 1e6, 2),
            ["iterations"] = Iterations,
            ["elementsPerSecond"] = Math.Round(ElementsPerSecond(elements)),
            ["fp16GBps"] = Math.Round(ElementsPerSecond(elements) * 2 / 1e9, 4),
        };
        if (method is not null)
            json["method"] = method;
        return json;
    }

    public double ElementsPerSecond(long elements) => MedianSeconds > 0 ? elements / MedianSeconds : 0;
}
