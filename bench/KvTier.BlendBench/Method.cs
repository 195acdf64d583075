using KvTier.Reference;

namespace KvTier.BlendBench;

/// <summary>One way of getting a prompt's KV, measured on every case.</summary>
/// <param name="Name">Row name.</param>
/// <param name="Family">"baseline", "blend" (the recompute-share sweep) or "variant" (other selector options).</param>
/// <param name="Share">Recompute share, where there is one.</param>
/// <param name="Run">Measures one case.</param>
internal sealed record Method(string Name, string Family, double? Share, Func<BlendEvaluation, Task<BlendOutcome>> Run);

/// <summary>A method's results over every case.</summary>
internal sealed record MethodSummary(string Name, string Family, double? Share, double MeanKl, double MaxKl, double GreedyMatchShare, double WorkSaved, double RecomputedTokens, int Cases)
{
    public static MethodSummary Of(Method method, IReadOnlyList<BlendOutcome> outcomes) => new(
        method.Name,
        method.Family,
        method.Share,
        outcomes.Average(o => o.MeanKl),
        outcomes.Max(o => o.MeanKl),
        outcomes.Count(o => o.GreedyMatches) / (double)outcomes.Count,
        outcomes.Average(o => o.WorkSaved),
        outcomes.Average(o => o.RecomputedTokens),
        outcomes.Count);
}
