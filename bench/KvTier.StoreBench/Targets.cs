using System.Globalization;

namespace KvTier.StoreBench;

/// <summary>One of the issue's targets, checked against this run's numbers.</summary>
/// <param name="Value">The measured ratio (or latency, for the index target); null when not measured.</param>
/// <param name="Detail">Which rows were compared.</param>
internal sealed record Target(string Name, bool Met, double? Value, double Threshold, string Detail);

/// <summary>Evaluates the targets. Each KvTier figure is the best of its modes, and the mode is named.</summary>
internal static class Targets
{
    public const string EightB = "8b-class";
    public static readonly string[] SmallCases = ["8b-16tok", "real-16tok"];

    public static List<Target> Evaluate(IReadOnlyList<CaseResult> cases, IReadOnlyList<IndexPoint> index, long indexTarget)
    {
        var targets = new List<Target>();
        CaseResult? big = cases.FirstOrDefault(c => c.Name == EightB);

        PutResult? bestPut = big is null ? null : BestPut(big);
        targets.Add(Ratio("put >= 0.8x the direct-I/O write limit (8b-class)", 0.8,
            bestPut?.BytesPerSecond, big?.Limits.DirectWriteBytesPerSecond,
            bestPut is null ? "" : $"kvtier {bestPut.Mode} vs O_DIRECT sequential write, one fsync at the end"));

        GetResult? warm = big is null ? null : BestGet(big, "warm", memoryTier: false);
        GetResult? memory = big?.Gets.Where(g => g.System == "kvtier" && g.Mode.StartsWith("memory", StringComparison.Ordinal)).FirstOrDefault();
        targets.Add(Ratio("warm get >= 0.8x memcpy (8b-class)", 0.8,
            warm?.BytesPerSecond, big?.Limits.MemcpyBytesPerSecond,
            warm is null ? "" : $"kvtier {warm.Mode} (page cache) vs one-thread memcpy" +
                (memory is null ? "" : F($"; memory tier: {memory.BytesPerSecond / big!.Limits.MemcpyBytesPerSecond:F2}x"))));

        GetResult? cold = big is null ? null : BestGet(big, "cold", memoryTier: false);
        targets.Add(Ratio("cold get >= 0.8x the cold read limit (8b-class)", 0.8,
            cold?.BytesPerSecond, big?.Limits.ColdReadBytesPerSecond,
            cold is null ? "" : $"kvtier {cold.Mode} vs the better of buffered and O_DIRECT sequential reads"));

        targets.Add(SmallVersusFiles(cases, put: true));
        targets.Add(SmallVersusFiles(cases, put: false));

        IndexPoint? at = index.FirstOrDefault(p => p.System == "kvtier" && p.Chunks == indexTarget);
        double? p99 = at is null ? null : Math.Max(at.Present.P99Us, at.Absent.P99Us);
        targets.Add(new Target(F($"index lookup p99 <= 20 us at {indexTarget:N0} chunks"), p99 is <= 20, p99, 20,
            at is null ? "not measured" : F($"Contains, worse of present ({at.Present.P99Us:F2} us) and absent ({at.Absent.P99Us:F2} us) keys")
                + (at.Extrapolated ? "; EXTRAPOLATED from fewer chunks" : "")));
        return targets;
    }

    public static void Print(IEnumerable<Target> targets)
    {
        Console.WriteLine();
        foreach (Target t in targets)
        {
            string value = t.Value is null ? "n/a" : t.Name.StartsWith("index", StringComparison.Ordinal) ? F($"{t.Value:F2} us") : F($"{t.Value:F2}x");
            Console.WriteLine($"target: {t.Name}: {(t.Met ? "MET" : "NOT MET")} ({value}; {t.Detail})");
        }
    }

    public static PutResult? BestPut(CaseResult c) =>
        c.Puts.Where(p => p.System == "kvtier").MaxBy(p => p.BytesPerSecond);

    public static GetResult? BestGet(CaseResult c, string cache, bool memoryTier) =>
        c.Gets.Where(g => g.System == "kvtier" && g.Cache == cache && g.Mode.StartsWith("memory", StringComparison.Ordinal) == memoryTier)
            .MaxBy(g => g.BytesPerSecond);

    private static Target SmallVersusFiles(IReadOnlyList<CaseResult> cases, bool put)
    {
        var parts = new List<string>();
        double? worst = null;
        foreach (CaseResult c in cases.Where(c => SmallCases.Contains(c.Name)))
        {
            if (put)
            {
                PutResult? kv = BestPut(c);
                PutResult? files = c.Puts.FirstOrDefault(p => p.System == "files");
                if (kv is null || files is null)
                    continue;
                double r = kv.BytesPerSecond / files.BytesPerSecond;
                worst = Math.Min(worst ?? double.MaxValue, r);
                parts.Add(F($"{c.Name} {r:F2}x ({kv.Mode})"));
            }
            else
            {
                foreach (string cache in new[] { "warm", "cold" })
                {
                    GetResult? kv = BestGet(c, cache, memoryTier: false);
                    GetResult? files = c.Gets.FirstOrDefault(g => g.System == "files" && g.Cache == cache);
                    if (kv is null || files is null)
                        continue;
                    double r = kv.BytesPerSecond / files.BytesPerSecond;
                    worst = Math.Min(worst ?? double.MaxValue, r);
                    parts.Add(F($"{c.Name} {cache} {r:F2}x ({kv.Mode})"));
                }
            }
        }

        string name = put ? "put >= 2x file-per-chunk on small chunks" : "get >= 2x file-per-chunk on small chunks (warm and cold)";
        return new Target(name, worst is >= 2, worst, 2, parts.Count == 0 ? "not measured" : "worst of " + string.Join(", ", parts));
    }

    private static Target Ratio(string name, double threshold, double? value, double? limit, string detail)
    {
        double? ratio = value is null || limit is null or 0 ? null : value / limit;
        return new Target(name, ratio >= threshold, ratio, threshold, ratio is null ? "not measured" : detail);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
