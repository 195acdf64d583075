using KvTier.Format.Elements;
using KvTier.Layout;

namespace KvTier.Format;

/// <summary>
/// The KV of one chunk in the engine's element type: per layer, K and V as <c>[tokens][kv_dim]</c> little-endian
/// elements. What an encoder takes and a decoder returns.
/// </summary>
/// <remarks>Not thread-safe for writing; concurrent reads are fine.</remarks>
public sealed class KvChunk
{
    private readonly byte[][] _sections;

    /// <summary>Creates a zero-filled chunk.</summary>
    /// <param name="layout">The KV layout.</param>
    /// <param name="tokenCount">1 to <see cref="ChunkRecordFormat.MaxTokenCount"/> tokens, with tokens × KV width ≤ <see cref="ChunkRecordFormat.MaxSectionElements"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tokenCount"/> is out of range.</exception>
    public KvChunk(KvLayout layout, int tokenCount)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (tokenCount < 1 || tokenCount > ChunkRecordFormat.MaxTokenCount || (long)tokenCount * layout.KvDim > ChunkRecordFormat.MaxSectionElements)
        {
            throw new ArgumentOutOfRangeException(nameof(tokenCount), tokenCount,
                $"A chunk holds 1 to {ChunkRecordFormat.MaxTokenCount} tokens and at most {ChunkRecordFormat.MaxSectionElements} elements per section.");
        }

        Layout = layout;
        TokenCount = tokenCount;
        _sections = new byte[2 * layout.Layers][];
        int bytes = tokenCount * layout.KvDim * layout.ElementSize;
        for (int i = 0; i < _sections.Length; i++)
            _sections[i] = new byte[bytes];
    }

    /// <summary>The KV layout.</summary>
    public KvLayout Layout { get; }

    /// <summary>Tokens in the chunk.</summary>
    public int TokenCount { get; }

    /// <summary>Elements per section: tokens × KV width.</summary>
    public int ElementsPerSection => TokenCount * Layout.KvDim;

    /// <summary>The elements of one layer's K or V, little-endian in <see cref="KvLayout.ElementType"/>; writable.</summary>
    public Span<byte> Section(int layer, SectionKind kind) => _sections[Index(layer, kind)];

    /// <summary>One layer's K or V widened to binary32 (exact).</summary>
    public void GetSingle(int layer, SectionKind kind, Span<float> destination) =>
        ElementConversion.ToSingle(Layout.ElementType, _sections[Index(layer, kind)], destination);

    /// <summary>Sets one layer's K or V from binary32 values, rounded to the element type (format-spec §10).</summary>
    public void SetSingle(int layer, SectionKind kind, ReadOnlySpan<float> values) =>
        ElementConversion.FromSingle(Layout.ElementType, values, _sections[Index(layer, kind)]);

    /// <summary>One layer's K or V as a new binary32 array.</summary>
    public float[] ToSingleArray(int layer, SectionKind kind)
    {
        var values = new float[ElementsPerSection];
        GetSingle(layer, kind, values);
        return values;
    }

    private int Index(int layer, SectionKind kind)
    {
        if ((uint)layer >= (uint)Layout.Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {Layout.Layers}).");
        if (kind is not (SectionKind.Keys or SectionKind.Values))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown section kind.");
        return 2 * layer + (int)kind;
    }
}
