using KvTier.Format.Codecs.Ans;

namespace KvTier.Format.Codecs;

/// <summary>
/// Codec 2, <c>ans</c> (format-spec/kvtier-format.md §9): quantization (keys per channel, values per token and head),
/// optional previous-token prediction, and static rANS with the frequency tables in the payload, split into independent
/// lanes. <see cref="AnsEncoder"/> is KvTier's deterministic encoder (§9.5); <see cref="AnsDecoder"/> decodes any valid
/// payload and rejects every malformed one as <see cref="ChunkRecordErrorKind.BadPayload"/>.
/// Stateless and thread-safe: calls share nothing but the array pools.
/// </summary>
internal sealed class AnsCodec : ILossyCodec
{
    /// <summary>Smallest level: the coarsest quantization (B = 7 in the first third of the layers, 3 after).</summary>
    public const int MinLevel = 1;

    /// <summary>Largest level: B = 63 everywhere.</summary>
    public const int MaxLevel = 4;

    /// <summary>The level used when none is given: B = 15 in the first third of the layers, 7 after.</summary>
    public const int DefaultLevel = 2;

    /// <summary>The codec.</summary>
    public static AnsCodec Instance { get; } = new();

    /// <inheritdoc/>
    public CodecId Id => CodecId.Ans;

    /// <summary>
    /// The quantization bound B that KvTier's encoder uses (§9.5's level table): quantized values lie in [−B, B].
    /// Layers below ⌈layers/3⌉ get the larger bound, being the ones whose errors later layers amplify.
    /// </summary>
    /// <param name="level">1 to 4.</param>
    /// <param name="layer">The section's layer, 0 ≤ layer &lt; <paramref name="layers"/>.</param>
    /// <param name="layers">Layers of the model.</param>
    /// <param name="kind">Keys or values (the table is the same for both in format v1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is out of range.</exception>
    internal static int Bound(int level, int layer, int layers, SectionKind kind)
    {
        if (level is < MinLevel or > MaxLevel)
            throw new ArgumentOutOfRangeException(nameof(level), level, $"ans levels are {MinLevel} to {MaxLevel}.");
        if (layers < 1)
            throw new ArgumentOutOfRangeException(nameof(layers), layers, "A model has at least one layer.");
        if (layer < 0 || layer >= layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {layers}).");
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown section kind.");
        bool early = layer < (layers + 2) / 3;
        return level switch
        {
            1 => early ? 7 : 3,
            2 => early ? 15 : 7,
            3 => early ? 31 : 15,
            _ => 63,
        };
    }

    /// <inheritdoc/>
    public byte[] Encode(in SectionContext context, ReadOnlySpan<float> values, int level) => AnsEncoder.Encode(context, values, level);

    /// <inheritdoc/>
    public void Decode(in SectionContext context, ReadOnlySpan<byte> payload, Span<float> values) => AnsDecoder.Decode(context, payload, values);

    /// <summary>
    /// An upper bound on any valid payload for the shape, whatever encoder wrote it: the header, the larger of the two
    /// scale counts, G = kv_dim tables of the largest alphabet (253), 1024 lane headers, and one word per element (a
    /// decode step consumes at most one word, and every word must be consumed). Independent of the section's kind.
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
    /// A lower bound on any valid payload for the shape: the header, the smaller of the two scale counts, one table of
    /// the smallest alphabet (3 symbols) and one lane header.
    /// </summary>
    public long MinPayloadLength(in SectionContext context)
    {
        long scales = Math.Min(context.Layout.KvDim, (long)context.TokenCount * context.Layout.KvHeads);
        return AnsFormat.HeaderSize + 4 * scales + 2 * 3 + AnsFormat.LaneHeaderSize;
    }
}
