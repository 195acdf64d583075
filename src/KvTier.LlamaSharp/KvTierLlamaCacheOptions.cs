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

    /// <summary>
    /// The most memory, in bytes, the fp32 rows of chunks being loaded may take: a prefill loads its stored chunks this
    /// many at a time (at least one chunk) and converts each window into llama.cpp's state blob, so a load holds the
    /// blob (the reused tokens' KV in the cache's type) plus one window. Default: 64 MiB (256 tokens of an 8B-class
    /// model, a whole prompt of a small one). Smaller windows bound memory further at one prefetch request per window,
    /// which loses some read overlap; at least 1.
    /// </summary>
    public long LoadWindowBytes { get; init; } = 64L << 20;

    internal void Validate()
    {
        if (!ChunkCodecs.TryGet(Codec, out _))
            throw new ArgumentOutOfRangeException(nameof(Codec), Codec, $"{nameof(KvTierLlamaCacheOptions)}.{nameof(Codec)}: unknown codec.");
        if (LoadWindowBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(LoadWindowBytes), LoadWindowBytes, $"{nameof(KvTierLlamaCacheOptions)}.{nameof(LoadWindowBytes)} must be at least 1 byte.");
    }
}
