namespace KvTier.Blend;

/// <summary>Options of selective recomputation (<see cref="RecomputeSelector"/>). Validated when a selector is created.</summary>
public sealed record RecomputeOptions
{
    /// <summary>
    /// Share of the reused tokens (<see cref="BlendedKv.ReusedTokens"/>) that the engine recomputes after the last check
    /// layer, 0 to 1. Default: 0.15, CacheBlend's operating point (EuroSys'25 reports no quality loss at about 15 %).
    /// More recomputes more of the attention the reused chunks missed, at proportionally more prefill work.
    /// </summary>
    public double Share { get; init; } = 0.15;

    /// <summary>
    /// Layers at which the engine's fresh KV of the tokens it is computing is compared with the blended KV to choose
    /// which tokens to keep computing; ascending, distinct, each below the layer count. Default: [1]. Layer 0's KV of a
    /// reused token depends on its own embedding and position only, so it never deviates (beyond rounding): the first
    /// layer worth checking is 1. Every token is computed in full up to the first check layer, so a later check costs more.
    /// </summary>
    public IReadOnlyList<int> CheckLayers { get; init; } = [1];

    /// <summary>
    /// How deviation is scored. Default: <see cref="DeviationMeasure.KeyValueRelative"/>, which on the reference model
    /// (bench/results/blend.json) halves the KL left at 15 % recomputation compared with absolute K (LMCache's) or KV
    /// (CacheBlend's) distances, at the same work.
    /// </summary>
    public DeviationMeasure Measure { get; init; } = DeviationMeasure.KeyValueRelative;

    /// <summary>
    /// A deviation measure of the engine's own (attention-based, say), used instead of <see cref="Measure"/>; null for
    /// <see cref="Measure"/>. Default: null. Called once per reused position at each check layer, on the engine's thread.
    /// </summary>
    public DeviationScorer? Scorer { get; init; }

    /// <summary>
    /// With several check layers: each keeps <c>Share × FilterGrowth^(checks after it)</c> of the reused tokens (at most
    /// all), so the selection narrows gradually to <see cref="Share"/> at the last check, each step judged on fresher KV
    /// (CacheBlend's gradual filtering). Ignored with one check layer. At least 1. Default: 2.
    /// </summary>
    public double FilterGrowth { get; init; } = 2;

    internal void Validate()
    {
        if (!(Share is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(Share), Share, $"{nameof(RecomputeOptions)}.{nameof(Share)} must be within [0, 1].");
        if (!(FilterGrowth >= 1) || double.IsInfinity(FilterGrowth))
            throw new ArgumentOutOfRangeException(nameof(FilterGrowth), FilterGrowth, $"{nameof(RecomputeOptions)}.{nameof(FilterGrowth)} must be finite and at least 1.");
        if (!Enum.IsDefined(Measure))
            throw new ArgumentOutOfRangeException(nameof(Measure), Measure, $"Unknown {nameof(RecomputeOptions)}.{nameof(Measure)}.");
        ArgumentNullException.ThrowIfNull(CheckLayers, nameof(CheckLayers));
        if (CheckLayers.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(CheckLayers), $"{nameof(RecomputeOptions)}.{nameof(CheckLayers)} needs at least one layer.");
        for (int i = 0; i < CheckLayers.Count; i++)
        {
            if (CheckLayers[i] < 0 || (i > 0 && CheckLayers[i] <= CheckLayers[i - 1]))
                throw new ArgumentOutOfRangeException(nameof(CheckLayers), $"{nameof(RecomputeOptions)}.{nameof(CheckLayers)} must be distinct, ascending and non-negative; got [{string.Join(", ", CheckLayers)}].");
        }
    }
}
