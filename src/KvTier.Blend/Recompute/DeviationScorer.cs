namespace KvTier.Blend;

/// <summary>
/// An engine's own measure of how far a reused position's fresh KV is from its blended KV at a check layer (for
/// <see cref="RecomputeOptions.Scorer"/>): larger means more in need of recomputation. Rows are one position's
/// KV width of binary32 values.
/// </summary>
/// <param name="layer">The check layer.</param>
/// <param name="position">The position.</param>
/// <param name="freshKeys">The engine's fresh keys of the position at the layer.</param>
/// <param name="freshValues">Its fresh values.</param>
/// <param name="blendedKeys">The blended keys (re-rotated stored keys) of the position at the layer.</param>
/// <param name="blendedValues">The blended values.</param>
/// <returns>The deviation score.</returns>
public delegate double DeviationScorer(int layer, int position, ReadOnlySpan<float> freshKeys, ReadOnlySpan<float> freshValues, ReadOnlySpan<float> blendedKeys, ReadOnlySpan<float> blendedValues);
