using System.Globalization;
using KvTier.Layout;
using LLama;
using LLama.Abstractions;
using LLama.Native;

namespace KvTier.LlamaSharp;

/// <summary>
/// Derives the <see cref="KvLayout"/> of a LLamaSharp (llama.cpp) context from its GGUF model and cache settings:
/// layers, KV heads and head dimension from the model, the element type from the context's K/V cache type, RoPE
/// theta and rotary dimensions from the GGUF metadata (or the context's override), pairing from the model's RoPE type
/// (llama.cpp's "normal" RoPE rotates adjacent pairs, "NeoX" split halves). llama.cpp caches K after RoPE.
/// </summary>
public static class LlamaKvLayout
{
    /// <summary>RoPE theta llama.cpp assumes when the GGUF file names none.</summary>
    public const double DefaultRopeTheta = 10000;

    /// <summary>The layout of <paramref name="context"/>'s KV cache.</summary>
    /// <exception cref="NotSupportedException">The cache type is not F32 or F16, K and V types differ, or the RoPE type has no KvTier pairing.</exception>
    public static KvLayout FromContext(LLamaContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return FromModel(context.NativeHandle.ModelHandle, context.Params);
    }

    /// <summary>The layout a context with <paramref name="parameters"/> on <paramref name="model"/> has.</summary>
    /// <exception cref="NotSupportedException">The cache type is not F32 or F16, K and V types differ, or the RoPE type has no KvTier pairing.</exception>
    public static KvLayout FromModel(SafeLlamaModelHandle model, IContextParams parameters)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(parameters);
        // llama.cpp's default cache type is F16.
        GGMLType typeK = parameters.TypeK ?? GGMLType.GGML_TYPE_F16;
        GGMLType typeV = parameters.TypeV ?? GGMLType.GGML_TYPE_F16;
        if (typeK != typeV)
            throw new NotSupportedException($"K cache type {typeK} and V cache type {typeV} differ; KvTier stores one element type.");
        KvElementType element = ElementType(typeK);

        string arch = Meta(model, "general.architecture") ?? "llama";
        int heads = model.HeadCount;
        int kvHeads = model.KVHeadCount;
        int headDim = MetaInt(model, $"{arch}.attention.key_length") ?? model.EmbeddingSize / heads;
        int rotary = MetaInt(model, $"{arch}.rope.dimension_count") ?? headDim;
        double theta = parameters.RopeFrequencyBase is > 0 and float f ? f
            : MetaDouble(model, $"{arch}.rope.freq_base") ?? DefaultRopeTheta;
        // llama.h's llama_rope_type values: NONE = -1, NORM = 0, NEOX = 2 (GGML_ROPE_TYPE_NEOX); M-RoPE and vision
        // RoPE rotate by several positions per token, which KvTier does not describe.
        RopePairing pairing = (int)model.RopeType switch
        {
            0 => RopePairing.AdjacentPairs,
            2 => RopePairing.SplitHalves,
            -1 => RopePairing.None,
            _ => throw new NotSupportedException($"RoPE type {model.RopeType} has no KvTier pairing."),
        };
        RopeParameters rope = pairing == RopePairing.None ? RopeParameters.None : new RopeParameters(theta, rotary, pairing);
        return new KvLayout(model.LayerCount, kvHeads, headDim, element, rope, keysStoredAfterRope: pairing != RopePairing.None);
    }

    /// <summary>The KvTier element type of a ggml cache type.</summary>
    /// <exception cref="NotSupportedException">Not F32 or F16.</exception>
    public static KvElementType ElementType(GGMLType type) => type switch
    {
        GGMLType.GGML_TYPE_F32 => KvElementType.Float32,
        GGMLType.GGML_TYPE_F16 => KvElementType.Float16,
        _ => throw new NotSupportedException($"KV cache type {type} is not supported; use F32 or F16."),
    };

    private static string? Meta(SafeLlamaModelHandle model, string key) =>
        model.MetadataValueByKey(key) is { } value ? System.Text.Encoding.UTF8.GetString(value.Span) : null;

    private static int? MetaInt(SafeLlamaModelHandle model, string key) =>
        Meta(model, key) is { } s && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : null;

    private static double? MetaDouble(SafeLlamaModelHandle model, string key) =>
        Meta(model, key) is { } s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 ? v : null;
}
