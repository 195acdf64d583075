namespace KvTier.Layout;

/// <summary>
/// The shape and meaning of a model's attention KV cache: everything a reader needs to interpret
/// stored keys and values, and everything that must match for a cached chunk to be reused.
/// A chunk's logical shape is <c>[2 (K, V)][Layers][tokens][KvHeads * HeadDim]</c>.
/// </summary>
/// <remarks>Immutable; safe to share between threads.</remarks>
public sealed record KvLayout
{
    /// <summary>Largest number of layers a layout may declare.</summary>
    public const int MaxLayers = 1024;

    /// <summary>Largest number of KV heads a layout may declare.</summary>
    public const int MaxKvHeads = 1024;

    /// <summary>Largest head dimension a layout may declare.</summary>
    public const int MaxHeadDim = 4096;

    /// <summary>Largest KV width (<see cref="KvHeads"/> × <see cref="HeadDim"/>) a layout may declare.</summary>
    public const int MaxKvDim = 65536;

    /// <summary>Creates and validates a layout.</summary>
    /// <param name="layers">Number of transformer layers, 1 to <see cref="MaxLayers"/>.</param>
    /// <param name="kvHeads">Number of key/value heads (fewer than query heads under grouped-query attention), 1 to <see cref="MaxKvHeads"/>.</param>
    /// <param name="headDim">Channels per head, 1 to <see cref="MaxHeadDim"/>.</param>
    /// <param name="elementType">Element type of the engine's KV cache.</param>
    /// <param name="rope">Rotary embedding parameters; rotary dimensions may not exceed <paramref name="headDim"/>.</param>
    /// <param name="keysStoredAfterRope">True when cached keys already carry the rotation of their positions (llama.cpp, llama2.c, vLLM); false when they are stored unrotated.</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rope"/> is null.</exception>
    public KvLayout(int layers, int kvHeads, int headDim, KvElementType elementType, RopeParameters rope, bool keysStoredAfterRope)
    {
        ArgumentNullException.ThrowIfNull(rope);
        if (layers is < 1 or > MaxLayers)
            throw new ArgumentOutOfRangeException(nameof(layers), layers, $"Layers must be within [1, {MaxLayers}].");
        if (kvHeads is < 1 or > MaxKvHeads)
            throw new ArgumentOutOfRangeException(nameof(kvHeads), kvHeads, $"KV heads must be within [1, {MaxKvHeads}].");
        if (headDim is < 1 or > MaxHeadDim)
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, $"Head dimension must be within [1, {MaxHeadDim}].");
        if ((long)kvHeads * headDim > MaxKvDim)
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, $"KV heads × head dimension must be at most {MaxKvDim}.");
        if (!Enum.IsDefined(elementType))
            throw new ArgumentOutOfRangeException(nameof(elementType), elementType, "Unknown KV element type.");
        if (rope.RotaryDims > headDim)
            throw new ArgumentOutOfRangeException(nameof(rope), rope.RotaryDims, $"RoPE rotary dimensions ({rope.RotaryDims}) exceed the head dimension ({headDim}).");
        if (rope.Pairing == RopePairing.None && keysStoredAfterRope)
            throw new ArgumentOutOfRangeException(nameof(keysStoredAfterRope), "Keys cannot be stored after RoPE in a model without RoPE.");

        Layers = layers;
        KvHeads = kvHeads;
        HeadDim = headDim;
        ElementType = elementType;
        Rope = rope;
        KeysStoredAfterRope = keysStoredAfterRope;
    }

    /// <summary>Number of transformer layers.</summary>
    public int Layers { get; }

    /// <summary>Number of key/value heads.</summary>
    public int KvHeads { get; }

    /// <summary>Channels per head.</summary>
    public int HeadDim { get; }

    /// <summary>Element type of the engine's KV cache.</summary>
    public KvElementType ElementType { get; }

    /// <summary>Rotary embedding parameters.</summary>
    public RopeParameters Rope { get; }

    /// <summary>True when cached keys already carry the rotation of their positions.</summary>
    public bool KeysStoredAfterRope { get; }

    /// <summary>Width of one token's K (or V) in one layer: <see cref="KvHeads"/> × <see cref="HeadDim"/> elements.</summary>
    public int KvDim => KvHeads * HeadDim;

    /// <summary>Size in bytes of one element of <see cref="ElementType"/>.</summary>
    public int ElementSize => ElementType == KvElementType.Float32 ? 4 : 2;

    /// <summary>Bytes of K and V, all layers, for one token in the engine's element type (uncompressed).</summary>
    public long BytesPerToken => 2L * Layers * KvDim * ElementSize;
}
