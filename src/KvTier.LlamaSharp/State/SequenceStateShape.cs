using KvTier.Layout;

namespace KvTier.LlamaSharp.State;

/// <summary>
/// What a sequence state blob must hold to be accepted: the context's layer count, KV width and cache element type,
/// and (when known) whether V is stored transposed. A blob of any other shape is refused, never reinterpreted.
/// </summary>
/// <param name="Layers">Layers with a KV cache (1 to <see cref="KvLayout.MaxLayers"/>).</param>
/// <param name="KvDim">KV heads × head dimension (1 to <see cref="KvLayout.MaxKvDim"/>).</param>
/// <param name="ElementType">The cache's element type: <see cref="KvElementType.Float32"/> or <see cref="KvElementType.Float16"/>.</param>
/// <param name="ValuesTransposed">
/// True when V is stored transposed (llama.cpp without flash attention), false when row-major (flash attention), null
/// to accept either (the parsed state says which it was).
/// </param>
public sealed record SequenceStateShape(int Layers, int KvDim, KvElementType ElementType, bool? ValuesTransposed)
{
    /// <summary>The shape of a context with <paramref name="layout"/>.</summary>
    /// <param name="layout">The context's KV layout.</param>
    /// <param name="valuesTransposed">See <see cref="ValuesTransposed"/>.</param>
    public static SequenceStateShape For(KvLayout layout, bool? valuesTransposed)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return new SequenceStateShape(layout.Layers, layout.KvDim, layout.ElementType, valuesTransposed);
    }

    internal int ElementSize => ElementType == KvElementType.Float32 ? 4 : 2;

    internal void Validate()
    {
        if (Layers is < 1 or > KvLayout.MaxLayers)
            throw new ArgumentOutOfRangeException(nameof(Layers), Layers, $"Layers must be within [1, {KvLayout.MaxLayers}].");
        if (KvDim is < 1 or > KvLayout.MaxKvDim)
            throw new ArgumentOutOfRangeException(nameof(KvDim), KvDim, $"KV width must be within [1, {KvLayout.MaxKvDim}].");
        if (ElementType is not (KvElementType.Float32 or KvElementType.Float16))
            throw new ArgumentOutOfRangeException(nameof(ElementType), ElementType, "llama.cpp sequence states are supported with F32 and F16 caches only.");
    }
}
