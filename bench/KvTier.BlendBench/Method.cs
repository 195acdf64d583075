using KvTier.Reference;

namespace KvTier.BlendBench;

/// <summary>One way of getting a prompt's KV, measured on every case.</summary>
/// <param name="Name">Row name.</param>
/// <param name="Family">"baseline", "blend" (the recompute-share sweep) or "variant" (other selector options).</param>
/// <param name="Share">Recompute share, where there is one.</param>
/// <param name="Run">Measures one case.</param>
internal sealed record Method(string Name, string Family, double? Share, Func<BlendEvaluation, Task<BlendOutcome>> Run);

/// <summary>A method's results over every case.</summary>
/// <param name="Name">Row name.</param>
/// <param name="Family">The method's family.</param>
/// <param name="Share">Recompute share, where there is one.</param>
/// <param name="MeanKl">Mean over cases of the mean KL against the full prefill.</param>
/// <param name="MaxKl">The worst case's mean KL.</param>
/// <param name="GreedyMatchShare">Share of cases whose greedy continuation equals the full prefill's.</param>
/// <param name="WorkSaved">Mean share of the full prefill's attention/MLP work saved.</param>
/// <param name="RecomputedTokens">Mean positions computed through the last layer.</param>
/// <param name="TimeVsFullPrefill">Median over cases of this method's wall time over the same case's full prefill (theirs measured in the same run).</param>
/// <param name="MedianMilliseconds">Median wall time to the prompt's KV and last logits.</param>
/// <param name="Cases">Cases measured.</param>
internal sealed record MethodSummary(string Name, string Family, double? Share, double MeanKl, double MaxKl, double GreedyMatchShare, double WorkSaved,
    double RecomputedTokens, double TimeVsFullPrefill, double MedianMilliseconds, int Cases)
{
    public static MethodSummary Of(Method method, IReadOnlyList<(BlendOutcome Outcome, TimeSpan Full)> results)
    {
        BlendOutcome[] outcomes = [.. results.Select(r => r.Outcome)];
        return new(
            method.Name,
            method.Family,
            method.Share,
            outcomes.Average(o => o.MeanKl),
            outcomes.Max(o => o.MeanKl),
            outcomes.Count(o => o.GreedyMatches) / (double)outcomes.Length,
            outcomes.Average(o => o.WorkSaved),
            outcomes.Average(o => o.RecomputedTokens),
            Median(results.Select(r => r.Outcome.Elapsed / r.Full)),
            Median(outcomes.Select(o => o.Elapsed.TotalMilliseconds)),
            outcomes.Length);
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
