namespace KvTier.Layout;

/// <summary>
/// The short names of layout enums used in text formats (key vectors, safetensors metadata, the CLI):
/// <c>f32</c>, <c>f16</c>, <c>bf16</c>; <c>none</c>, <c>adjacent</c>, <c>split-half</c>.
/// </summary>
public static class LayoutNames
{
    /// <summary>The short name of an element type.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined element type.</exception>
    public static string Of(KvElementType elementType) => elementType switch
    {
        KvElementType.Float32 => "f32",
        KvElementType.Float16 => "f16",
        KvElementType.BFloat16 => "bf16",
        _ => throw new ArgumentOutOfRangeException(nameof(elementType), elementType, "Unknown KV element type."),
    };

    /// <summary>The short name of a RoPE pairing.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined pairing.</exception>
    public static string Of(RopePairing pairing) => pairing switch
    {
        RopePairing.None => "none",
        RopePairing.AdjacentPairs => "adjacent",
        RopePairing.SplitHalves => "split-half",
        _ => throw new ArgumentOutOfRangeException(nameof(pairing), pairing, "Unknown RoPE pairing."),
    };

    /// <summary>Parses <c>f32</c>, <c>f16</c> or <c>bf16</c>.</summary>
    /// <exception cref="FormatException">Any other text.</exception>
    public static KvElementType ParseElementType(string name) => name switch
    {
        "f32" => KvElementType.Float32,
        "f16" => KvElementType.Float16,
        "bf16" => KvElementType.BFloat16,
        _ => throw new FormatException($"Unknown element type \"{name}\" (expected f32, f16 or bf16)."),
    };

    /// <summary>Parses <c>none</c>, <c>adjacent</c> or <c>split-half</c>.</summary>
    /// <exception cref="FormatException">Any other text.</exception>
    public static RopePairing ParsePairing(string name) => name switch
    {
        "none" => RopePairing.None,
        "adjacent" => RopePairing.AdjacentPairs,
        "split-half" => RopePairing.SplitHalves,
        _ => throw new FormatException($"Unknown RoPE pairing \"{name}\" (expected none, adjacent or split-half)."),
    };
}
