using KvTier.Layout;

namespace KvTier.Blend;

/// <summary>
/// The assembled KV of a blended prompt: per layer, K and V as binary32 <c>[TokenCount][KvDim]</c> rows, one per
/// position, K rotated for its target positions (when the layout stores keys after RoPE). Filled layer by layer by a
/// <see cref="BlendRequest"/>; the engine's recomputed rows go in through <see cref="Merge"/>.
/// </summary>
/// <remarks>
/// Concurrency: the blend writes layer l once, before <see cref="BlendRequest.WaitForLayerAsync"/> for it completes;
/// after that the engine owns the layer (it reads it and merges into it, one thread at a time per layer). Origins
/// (<see cref="GetOrigin"/>, <see cref="ComputeTokens"/>, …) are fixed once layer 0 is ready.
/// </remarks>
public sealed class BlendedKv
{
    private readonly float[][] _keys;
    private readonly float[][] _values;
    private readonly TokenOrigin[] _origins;
    private int[] _computeTokens = [];
    private int[] _reusedTokens = [];
    private BlendEntry[] _missing = [];

    internal BlendedKv(KvLayout layout, BlendPlan plan, IReadOnlyList<BlendEntry> resolvedEntries)
    {
        Layout = layout;
        Plan = plan;
        ResolvedEntries = resolvedEntries;
        TokenCount = plan.TokenCount;
        long floats = (long)TokenCount * layout.KvDim;
        if (floats > Array.MaxLength)
            throw new BlendException(BlendErrorKind.OutOfRange, $"{TokenCount} positions × KV width {layout.KvDim} are more values per layer than one array holds.");
        _keys = new float[layout.Layers][];
        _values = new float[layout.Layers][];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            _keys[layer] = new float[floats];
            _values[layer] = new float[floats];
        }

        _origins = new TokenOrigin[TokenCount];
    }

    /// <summary>The model's KV layout.</summary>
    public KvLayout Layout { get; }

    /// <summary>The plan, as given.</summary>
    public BlendPlan Plan { get; }

    /// <summary>The plan's entries with token spans split into one segment entry per stored chunk.</summary>
    public IReadOnlyList<BlendEntry> ResolvedEntries { get; }

    /// <summary>Positions in the blended prompt.</summary>
    public int TokenCount { get; }

    /// <summary>Stored entries (segment or prefix) the store did not have, or whose record failed its checksum before layer 0; their positions are <see cref="TokenOrigin.Computed"/>.</summary>
    public IReadOnlyList<BlendEntry> MissingEntries => _missing;

    /// <summary>Positions the engine must compute in full, ascending.</summary>
    public IReadOnlyList<int> ComputeTokens => _computeTokens;

    /// <summary>Positions reused from moved segments (candidates for recomputation), ascending.</summary>
    public IReadOnlyList<int> ReusedTokens => _reusedTokens;

    /// <summary>Positions reused exactly from prefix-keyed chunks.</summary>
    public int ExactTokenCount => TokenCount - _computeTokens.Length - _reusedTokens.Length;

    /// <summary>Where position <paramref name="position"/>'s KV came from.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such position.</exception>
    public TokenOrigin GetOrigin(int position)
    {
        if ((uint)position >= (uint)TokenCount)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Position must be within [0, {TokenCount}).");
        return _origins[position];
    }

    /// <summary>Layer <paramref name="layer"/>'s keys, <see cref="TokenCount"/> × KV width, row = position.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such layer.</exception>
    public Span<float> Keys(int layer) => _keys[CheckLayer(layer)];

    /// <summary>Layer <paramref name="layer"/>'s values, <see cref="TokenCount"/> × KV width, row = position.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such layer.</exception>
    public Span<float> Values(int layer) => _values[CheckLayer(layer)];

    /// <summary>
    /// Writes the engine's freshly computed K and V of <paramref name="tokens"/> at layer <paramref name="layer"/> over the
    /// blended rows: the merge step of selective recomputation. Row i of <paramref name="keys"/> and
    /// <paramref name="values"/> belongs to position <c>tokens[i]</c>.
    /// </summary>
    /// <param name="layer">The layer.</param>
    /// <param name="tokens">Positions, strictly ascending, within <c>[0, TokenCount)</c>.</param>
    /// <param name="keys"><c>tokens.Length</c> × KV width keys, rotated for their positions as the layout stores them.</param>
    /// <param name="values"><c>tokens.Length</c> × KV width values.</param>
    /// <exception cref="BlendException"><see cref="BlendErrorKind.InvalidEngineKv"/>: the positions or the row counts do not fit.</exception>
    public void Merge(int layer, ReadOnlySpan<int> tokens, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        CheckLayer(layer);
        CheckEngineRows(tokens, keys, values, TokenCount, Layout.KvDim);
        int kvDim = Layout.KvDim;
        Span<float> k = _keys[layer];
        Span<float> v = _values[layer];
        for (int i = 0; i < tokens.Length; i++)
        {
            keys.Slice(i * kvDim, kvDim).CopyTo(k.Slice(tokens[i] * kvDim, kvDim));
            values.Slice(i * kvDim, kvDim).CopyTo(v.Slice(tokens[i] * kvDim, kvDim));
        }
    }

    /// <summary>Checks that engine rows name ascending positions in range and hold one KV row per position.</summary>
    internal static void CheckEngineRows(ReadOnlySpan<int> tokens, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokenCount, int kvDim)
    {
        long expected = (long)tokens.Length * kvDim;
        if (keys.Length != expected || values.Length != expected)
        {
            throw new BlendException(BlendErrorKind.InvalidEngineKv,
                $"{tokens.Length} positions of KV width {kvDim} need {expected} keys and {expected} values; got {keys.Length} and {values.Length}.");
        }

        int previous = -1;
        foreach (int token in tokens)
        {
            if (token <= previous || token >= tokenCount)
            {
                throw new BlendException(BlendErrorKind.InvalidEngineKv,
                    $"Position {token} is out of order or outside the blend's [0, {tokenCount}); positions must be strictly ascending.");
            }

            previous = token;
        }
    }

    internal void SetOrigin(int start, int count, TokenOrigin origin) => _origins.AsSpan(start, count).Fill(origin);

    // Called once, after every origin is set and before layer 0 is published.
    internal void SealOrigins(BlendEntry[] missing)
    {
        var compute = new List<int>();
        var reused = new List<int>();
        for (int position = 0; position < _origins.Length; position++)
        {
            if (_origins[position] == TokenOrigin.Computed)
                compute.Add(position);
            else if (_origins[position] == TokenOrigin.Reused)
                reused.Add(position);
        }

        _computeTokens = [.. compute];
        _reusedTokens = [.. reused];
        _missing = missing;
    }

    private int CheckLayer(int layer)
    {
        if ((uint)layer >= (uint)Layout.Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {Layout.Layers}).");
        return layer;
    }
}
