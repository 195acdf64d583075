using KvTier.Format.Codecs;

namespace KvTier.LlamaSharp;

/// <summary>How a <see cref="KvTierLlamaCache"/> encodes what it stores. Validated when the cache is created.</summary>
public sealed record KvTierLlamaCacheOptions
{
    /// <summary>
    /// The codec of stored chunks. Default: <see cref="CodecId.Raw"/>, which stores the engine's K and V bit for bit, so
    /// a prompt served from the cache continues exactly as one computed from scratch. Lossy codecs
    /// (<see cref="CodecId.Q8"/>, <see cref="CodecId.Ans"/>) store several times less but perturb the continuation.
    /// </summary>
    public CodecId Codec { get; init; } = CodecId.Raw;

    /// <summary>The codec level; null (the default) for the codec's default level.</summary>
    public int? Level { get; init; }

    internal void Validate()
    {
        if (!ChunkCodecs.TryGet(Codec, out _))
            throw new ArgumentOutOfRangeException(nameof(Codec), Codec, $"{nameof(KvTierLlamaCacheOptions)}.{nameof(Codec)}: unknown codec.");
    }
}
