namespace KvTier.Format.Codecs;

/// <summary>The codec of a chunk record (format-spec/kvtier-format.md §7–§9). The values are the <c>codec</c> header field and never change.</summary>
public enum CodecId : byte
{
    /// <summary>Lossless passthrough of the engine's element type (§7).</summary>
    Raw = 0,

    /// <summary>8-bit symmetric quantization, one scale per token and head (§8).</summary>
    Q8 = 1,

    /// <summary>Quantization, token prediction and interleaved-lane rANS entropy coding (§9).</summary>
    Ans = 2,
}
