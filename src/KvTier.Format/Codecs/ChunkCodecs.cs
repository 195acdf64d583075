namespace KvTier.Format.Codecs;

/// <summary>The codecs of format v1 (format-spec/kvtier-format.md §7–§9) and the default choice.</summary>
public static class ChunkCodecs
{
    /// <summary><c>raw</c>: lossless passthrough.</summary>
    public static CodecInfo Raw { get; } = new(CodecId.Raw, "raw", 0, 0, 0, Lossless: true,
        "lossless passthrough of the engine's element type (f32, f16 or bf16)");

    /// <summary><c>q8</c>: 8-bit symmetric quantization.</summary>
    public static CodecInfo Q8 { get; } = new(CodecId.Q8, "q8", 0, 0, 0, Lossless: false,
        "8-bit symmetric quantization, one f32 scale per token and head");

    /// <summary><c>ans</c>: quantization, token prediction and lane-parallel rANS.</summary>
    public static CodecInfo Ans { get; } = new(CodecId.Ans, "ans", AnsCodec.MinLevel, AnsCodec.MaxLevel, AnsCodec.DefaultLevel, Lossless: false,
        "quantization (K and V per channel at the encoder's levels; per token and head and per token readable too), f16 or f32 scales, optional previous-token prediction, rANS in independent lanes; level 1 smallest, 4 near-lossless");

    /// <summary>Every codec, by id.</summary>
    public static IReadOnlyList<CodecInfo> All { get; } = [Raw, Q8, Ans];

    /// <summary>The codec used when none is named.</summary>
    public static CodecInfo Default => Ans;

    /// <summary>The codec with this id.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such codec.</exception>
    public static CodecInfo Get(CodecId id) =>
        TryGet(id, out CodecInfo? info) ? info : throw new ArgumentOutOfRangeException(nameof(id), id, "Unknown codec.");

    /// <summary>The codec with this id, if format v1 defines it.</summary>
    public static bool TryGet(CodecId id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CodecInfo? info)
    {
        info = (int)id < All.Count ? All[(int)id] : null;
        return info is not null;
    }

    /// <summary>The codec with this name (case-sensitive, as listed by <see cref="All"/>).</summary>
    public static bool TryParse(string? name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CodecInfo? info)
    {
        info = All.FirstOrDefault(c => c.Name == name);
        return info is not null;
    }

    /// <summary>The implementation of a lossy codec.</summary>
    internal static ILossyCodec Lossy(CodecId id) => id switch
    {
        CodecId.Q8 => Q8Codec.Instance,
        CodecId.Ans => AnsCodec.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "Not a lossy codec."),
    };
}
