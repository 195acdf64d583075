namespace KvTier.CodecBench;

/// <summary>The issue's targets, checked against this run's numbers (and printed whether met or not).</summary>
internal sealed record Targets(
    string DefaultCandidate,
    double DefaultRatioToCacheGen,
    bool DefaultKlAtMostCacheGen,
    bool DefaultSmallerBy13xAtEqualKl,
    string? ExactGreedyLevel,
    double BestAnsGreedyShare,
    double AnsDecodeElementsPerSecond,
    double AnsWideLayoutDecodeElementsPerSecond,
    bool DecodeAtLeast1e9)
{
    public static Targets Evaluate(IReadOnlyList<CandidateSummary> rows, int defaultLevel, double wideDecode)
    {
        CandidateSummary cacheGen = rows.Single(r => r.Name == "cachegen");
        CandidateSummary? @default = rows.SingleOrDefault(r => r.Name == $"ans-{defaultLevel}");
        CandidateSummary[] ans = rows.Where(r => r.Family == "ans").ToArray();
        if (@default is null || ans.Length == 0)
            return new Targets($"ans-{defaultLevel}", 0, false, false, null, 0, 0, wideDecode, wideDecode >= 1e9);
        CandidateSummary? exact = ans.Where(r => r.GreedyMatchShare >= 0.95).OrderBy(r => r.BitsPerElement).FirstOrDefault();
        bool klOk = @default.MeanKl <= cacheGen.MeanKl;
        return new Targets(
            @default.Name,
            @default.RatioToCacheGen,
            klOk,
            klOk && @default.RatioToCacheGen >= 1.3,
            exact?.Name,
            ans.Max(r => r.GreedyMatchShare),
            @default.DecodeElementsPerSecond,
            wideDecode,
            wideDecode >= 1e9);
    }

    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine($"target: {DefaultCandidate} >= 1.3x smaller than cachegen at equal or better KL: {(DefaultSmallerBy13xAtEqualKl ? "MET" : "NOT MET")} "
            + $"({DefaultRatioToCacheGen:F2}x smaller, KL {(DefaultKlAtMostCacheGen ? "<=" : ">")} cachegen's)");
        Console.WriteLine($"target: a level whose greedy continuations match on >= 95% of prompts: {(ExactGreedyLevel is null ? "NOT MET" : "MET by " + ExactGreedyLevel)} (best {BestAnsGreedyShare:P0})");
        Console.WriteLine($"target: CPU decode >= 1e9 elements/s on one core: {(DecodeAtLeast1e9 ? "MET" : "NOT MET")} on the 8B-class layout "
            + $"({AnsWideLayoutDecodeElementsPerSecond:E2} elements/s; {AnsDecodeElementsPerSecond:E2} on stories260K's 8,192-element sections, whole records)");
    }
}
