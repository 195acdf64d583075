namespace KvTier.Blend;

/// <summary>
/// The engine-neutral half of selective recomputation (CacheBlend, EuroSys'25 §4): which tokens of a blend the engine
/// recomputes, layer by layer. The protocol, for an engine holding a ready <see cref="BlendedKv"/>:
/// <list type="number">
/// <item>Start with <see cref="InitialTokens"/> (every reused and every computed position) at layer 0.</item>
/// <item>At each layer l, compute the fresh K and V of the current tokens. If <see cref="IsCheckLayer"/>(l), call
/// <see cref="Select"/> with them: it compares them with the blended rows and returns the tokens to carry on with —
/// the positions that must be computed, plus the reused ones that deviate most.</item>
/// <item>Merge the fresh rows (<see cref="BlendedKv.Merge"/>), then run attention and the MLP of layer l for the tokens
/// carried on only, attending over the merged layer.</item>
/// </list>
/// Positions the engine stopped computing keep their blended KV for the remaining layers.
/// </summary>
/// <remarks>Not thread-safe: one engine pass at a time drives a selector (checks must come in layer order).</remarks>
public sealed class RecomputeSelector
{
    private readonly int[] _checkLayers;
    private readonly int[] _initial;
    private readonly bool[] _always;   // per position: carried on through every check
    private int _nextCheck;

    /// <summary>Creates a selector for one pass over <paramref name="kv"/>, whose layer 0 must be ready (origins fixed).</summary>
    /// <param name="kv">The blend.</param>
    /// <param name="options">Options; default: <see cref="RecomputeOptions"/>'s defaults.</param>
    /// <param name="alwaysCompute">Positions to compute in every layer whatever their origin (for example the last prompt position, whose logits the engine needs).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or a position is outside the blend.</exception>
    /// <exception cref="BlendException"><see cref="BlendErrorKind.InvalidRecompute"/>: a check layer is not below the layout's layer count.</exception>
    public RecomputeSelector(BlendedKv kv, RecomputeOptions? options = null, ReadOnlySpan<int> alwaysCompute = default)
    {
        ArgumentNullException.ThrowIfNull(kv);
        options ??= new RecomputeOptions();
        options.Validate();
        _checkLayers = [.. options.CheckLayers];
        if (_checkLayers[^1] >= kv.Layout.Layers)
            throw new BlendException(BlendErrorKind.InvalidRecompute, $"Check layer {_checkLayers[^1]} is not below the layout's {kv.Layout.Layers} layers.");
        Kv = kv;
        Options = options;
        _always = new bool[kv.TokenCount];
        foreach (int position in kv.ComputeTokens)
            _always[position] = true;
        foreach (int position in alwaysCompute)
        {
            if ((uint)position >= (uint)kv.TokenCount)
                throw new ArgumentOutOfRangeException(nameof(alwaysCompute), position, $"Position must be within [0, {kv.TokenCount}).");
            _always[position] = true;
        }

        var initial = new List<int>(kv.ComputeTokens.Count + kv.ReusedTokens.Count);
        for (int position = 0; position < kv.TokenCount; position++)
        {
            if (_always[position] || kv.GetOrigin(position) == TokenOrigin.Reused)
                initial.Add(position);
        }

        _initial = [.. initial];
    }

    /// <summary>The blend.</summary>
    public BlendedKv Kv { get; }

    /// <summary>The options.</summary>
    public RecomputeOptions Options { get; }

    /// <summary>Positions the engine computes at layer 0, ascending: every reused and computed position and the ones it asked to always compute.</summary>
    public IReadOnlyList<int> InitialTokens => _initial;

    /// <summary>Whether the engine must call <see cref="Select"/> at <paramref name="layer"/>.</summary>
    public bool IsCheckLayer(int layer) => Array.IndexOf(_checkLayers, layer) >= 0;

    /// <summary>
    /// How many reused positions check <paramref name="checkIndex"/> (0-based, in <see cref="RecomputeOptions.CheckLayers"/>
    /// order) keeps by deviation: <c>round(min(1, Share × FilterGrowth^(checks after it)) × reused positions)</c>, or fewer
    /// when fewer are still being computed. Reused positions named in <c>alwaysCompute</c> are kept on top of these.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such check.</exception>
    public int KeptAfterCheck(int checkIndex)
    {
        if ((uint)checkIndex >= (uint)_checkLayers.Length)
            throw new ArgumentOutOfRangeException(nameof(checkIndex), checkIndex, $"Check must be within [0, {_checkLayers.Length}).");
        double share = Math.Min(1, Options.Share * Math.Pow(Options.FilterGrowth, _checkLayers.Length - 1 - checkIndex));
        return (int)Math.Round(share * Kv.ReusedTokens.Count, MidpointRounding.AwayFromZero);
    }

    /// <summary>
    /// Scores each reused position of <paramref name="tokens"/> by how far its fresh KV at <paramref name="layer"/> is from
    /// the blended KV (<see cref="RecomputeOptions.Measure"/>) and returns the positions to carry on with, ascending: every
    /// position that must be computed, and the <see cref="KeptAfterCheck"/> reused ones that deviate most (ties go to the
    /// earlier position). Call it before merging the fresh rows of that layer.
    /// </summary>
    /// <param name="layer">The next check layer, in order.</param>
    /// <param name="tokens">The positions the engine computed at this layer, strictly ascending.</param>
    /// <param name="freshKeys"><c>tokens.Length</c> × KV width fresh keys (rotated for their positions as the layout stores them).</param>
    /// <param name="freshValues"><c>tokens.Length</c> × KV width fresh values.</param>
    /// <returns>A subset of <paramref name="tokens"/>, ascending.</returns>
    /// <exception cref="BlendException">
    /// <see cref="BlendErrorKind.InvalidRecompute"/>: <paramref name="layer"/> is not the next check layer;
    /// <see cref="BlendErrorKind.InvalidEngineKv"/>: the positions or rows do not fit.
    /// </exception>
    public int[] Select(int layer, ReadOnlySpan<int> tokens, ReadOnlySpan<float> freshKeys, ReadOnlySpan<float> freshValues)
    {
        if (_nextCheck >= _checkLayers.Length || _checkLayers[_nextCheck] != layer)
        {
            string expected = _nextCheck < _checkLayers.Length ? $"layer {_checkLayers[_nextCheck]}" : "no further check";
            throw new BlendException(BlendErrorKind.InvalidRecompute, $"Select was called for layer {layer}; the next check is {expected} (check layers [{string.Join(", ", _checkLayers)}]).");
        }

        int kvDim = Kv.Layout.KvDim;
        BlendedKv.CheckEngineRows(tokens, freshKeys, freshValues, Kv.TokenCount, kvDim);
        int keep = KeptAfterCheck(_nextCheck);
        _nextCheck++;

        ReadOnlySpan<float> blendedKeys = Kv.Keys(layer);
        ReadOnlySpan<float> blendedValues = Kv.Values(layer);
        bool useKeys = Options.Measure != DeviationMeasure.ValueSquared;
        bool useValues = Options.Measure != DeviationMeasure.KeySquared;
        bool relative = Options.Measure == DeviationMeasure.KeyValueRelative;
        DeviationScorer? scorer = Options.Scorer;
        var candidates = new List<(double Deviation, int Row)>(tokens.Length);
        var selected = new List<int>(tokens.Length);
        for (int row = 0; row < tokens.Length; row++)
        {
            int position = tokens[row];
            if (_always[position])
            {
                selected.Add(position);
                continue;
            }

            if (Kv.GetOrigin(position) != TokenOrigin.Reused)
                continue;
            ReadOnlySpan<float> freshK = freshKeys.Slice(row * kvDim, kvDim);
            ReadOnlySpan<float> freshV = freshValues.Slice(row * kvDim, kvDim);
            ReadOnlySpan<float> blendedK = blendedKeys.Slice(position * kvDim, kvDim);
            ReadOnlySpan<float> blendedV = blendedValues.Slice(position * kvDim, kvDim);
            double deviation = scorer is not null
                ? scorer(layer, position, freshK, freshV, blendedK, blendedV)
                : (useKeys ? Deviation(freshK, blendedK, relative) : 0) + (useValues ? Deviation(freshV, blendedV, relative) : 0);
            candidates.Add((deviation, row));
        }

        candidates.Sort(static (a, b) => a.Deviation != b.Deviation ? b.Deviation.CompareTo(a.Deviation) : a.Row.CompareTo(b.Row));
        for (int i = 0; i < Math.Min(keep, candidates.Count); i++)
            selected.Add(tokens[candidates[i].Row]);
        selected.Sort();
        return [.. selected];
    }

    // Squared L2 distance of the fresh row from the blended one, or that over the blended row's squared norm.
    private static double Deviation(ReadOnlySpan<float> fresh, ReadOnlySpan<float> blended, bool relative)
    {
        double distance = 0;
        double norm = 0;
        for (int i = 0; i < fresh.Length; i++)
        {
            double d = (double)fresh[i] - blended[i];
            distance += d * d;
            norm += (double)blended[i] * blended[i];
        }

        return relative ? distance / Math.Max(norm, double.Epsilon) : distance;
    }
}
