using KvTier.Format.Codecs.Ans;

namespace KvTier.Format.Codecs;

/// <summary>
/// Codec 2, <c>ans</c> (format-spec/kvtier-format.md §9): quantization (keys per channel, values per token or per token and
/// head, with f16 scales where they fit), optional previous-token prediction, and static rANS with the frequency tables in
/// the payload, split into independent lanes. <see cref="AnsEncoder"/> is KvTier's deterministic encoder (§9.5, settings per
/// level in <see cref="AnsLevels"/>); <see cref="AnsDecoder"/> decodes any valid payload and rejects every malformed one as
/// <see cref="ChunkRecordErrorKind.BadPayload"/>.
/// Stateless and thread-safe: calls share nothing but the array pools.
/// </summary>
internal sealed class AnsCodec : ILossyCodec
{
    /// <summary>Smallest level: the coarsest quantization (<see cref="AnsLevels"/>).</summary>
    public const int MinLevel = 1;

    /// <summary>Largest level: the finest quantization (<see cref="AnsLevels"/>).</summary>
    public const int MaxLevel = 4;

    /// <summary>The level used when none is given.</summary>
    public const int DefaultLevel = 2;

    /// <summary>The codec.</summary>
    public static AnsCodec Instance { get; } = new();

    /// <inheritdoc/>
    public CodecId Id => CodecId.Ans;

    /// <summary>
    /// The quantization bound B that KvTier's encoder uses (§9.5's level table, <see cref="AnsLevels"/>): quantized values
    /// lie in [−B, B]. Layers below ⌈layers/3⌉ have their own bound, being the ones whose errors later layers amplify.
    /// </summary>
    /// <param name="level">1 to 4.</param>
    /// <param name="layer">The section's layer, 0 ≤ layer &lt; <paramref name="layers"/>.</param>
    /// <param name="layers">Layers of the model.</param>
    /// <param name="kind">Keys or values.</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is out of range.</exception>
    internal static int Bound(int level, int layer, int layers, SectionKind kind)
    {
        AnsLevels.Row row = AnsLevels.Of(level);
        if (layers < 1)
            throw new ArgumentOutOfRangeException(nameof(layers), layers, "A model has at least one layer.");
        if (layer < 0 || layer >= layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {layers}).");
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown section kind.");
        return row.Bound(kind, early: layer < (layers + 2) / 3);
    }

    /// <summary>The scale axis that KvTier's encoder uses for a section of <paramref name="kind"/> at <paramref name="level"/> (<see cref="AnsLevels"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is out of range.</exception>
    internal static AnsScaleAxis ScaleAxis(int level, SectionKind kind)
    {
        AnsLevels.Row row = AnsLevels.Of(level);
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown section kind.");
        return row.ScaleAxis(kind);
    }

    /// <inheritdoc/>
    public byte[] Encode(in SectionContext context, ReadOnlySpan<float> values, int level) => AnsEncoder.Encode(context, values, level);

    /// <inheritdoc/>
    public void Decode(in SectionContext context, ReadOnlySpan<byte> payload, Span<float> values) => AnsDecoder.Decode(context, payload, values);

    /// <summary>
    /// An upper bound on any valid payload for the shape, whatever encoder wrote it: the header, the largest scale count
    /// (per channel or per token and head) in binary32, G = kv_dim tables of the largest alphabet (253), 1024 lane headers,
    /// and one word per element (a decode step consumes at most one word, and every word must be consumed). Independent
    /// of the section's kind.
    /// </summary>
    public long MaxPayloadLength(in SectionContext context)
    {
        long kvDim = context.Layout.KvDim;
        long tokens = context.TokenCount;
        long elements = tokens * kvDim;
        long scales = Math.Max(kvDim, tokens * context.Layout.KvHeads);
        return AnsFormat.HeaderSize + 4 * scales + 2L * AnsFormat.MaxAlphabet * kvDim + (long)AnsFormat.LaneHeaderSize * AnsFormat.MaxLanes + 2 * elements;
    }

    /// <summary>
    /// A lower bound on any valid payload for the shape: the header, the smallest scale count (per channel or per token:
    /// min(kv_dim, token_count)) in binary16, one table of the smallest alphabet (3 symbols) and one lane header.
    /// </summary>
    public long MinPayloadLength(in SectionContext context)
    {
        long scales = Math.Min(context.Layout.KvDim, context.TokenCount);
        return AnsFormat.HeaderSize + 2 * scales + 2 * 3 + AnsFormat.LaneHeaderSize;
    }
}
