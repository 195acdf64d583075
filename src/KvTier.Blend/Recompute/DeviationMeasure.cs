namespace KvTier.Blend;

/// <summary>How <see cref="RecomputeSelector"/> scores a reused token's deviation from what the engine just computed for it.</summary>
public enum DeviationMeasure
{
    /// <summary>Squared L2 distance of K alone (what LMCache's blending implementation uses).</summary>
    KeySquared,

    /// <summary>Squared L2 distance of V alone.</summary>
    ValueSquared,

    /// <summary>Squared L2 distance of K plus that of V (CacheBlend's "KV deviation").</summary>
    KeyValueSquared,

    /// <summary>
    /// Squared L2 distance of K relative to the blended K's squared norm, plus the same for V: a token whose KV is small
    /// but changed direction counts as much as a large one that changed by the same fraction.
    /// </summary>
    KeyValueRelative,
}
