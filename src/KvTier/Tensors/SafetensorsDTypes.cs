using System.Diagnostics.CodeAnalysis;

namespace KvTier.Tensors;

/// <summary>Names and element sizes of <see cref="SafetensorsDType"/> values, as the safetensors header spells them.</summary>
public static class SafetensorsDTypes
{
    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined value.</exception>
    public static int GetElementSize(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.Bool or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8E5M2 or SafetensorsDType.F8E4M3 or SafetensorsDType.F8E8M0 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.F64 or SafetensorsDType.C64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>The header's <c>"dtype"</c> string for <paramref name="dtype"/>, for example <c>"F32"</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined value.</exception>
    public static string GetName(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.Bool => "BOOL",
        SafetensorsDType.U8 => "U8",
        SafetensorsDType.I8 => "I8",
        SafetensorsDType.F8E5M2 => "F8_E5M2",
        SafetensorsDType.F8E4M3 => "F8_E4M3",
        SafetensorsDType.F8E8M0 => "F8_E8M0",
        SafetensorsDType.I16 => "I16",
        SafetensorsDType.U16 => "U16",
        SafetensorsDType.F16 => "F16",
        SafetensorsDType.BF16 => "BF16",
        SafetensorsDType.I32 => "I32",
        SafetensorsDType.U32 => "U32",
        SafetensorsDType.F32 => "F32",
        SafetensorsDType.F64 => "F64",
        SafetensorsDType.C64 => "C64",
        SafetensorsDType.I64 => "I64",
        SafetensorsDType.U64 => "U64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>Parses a header <c>"dtype"</c> string; the match is exact and case-sensitive, as in the reference implementation.</summary>
    /// <param name="name">The string from the header, for example <c>"BF16"</c>.</param>
    /// <param name="dtype">The parsed type, when the result is true.</param>
    /// <returns>False when <paramref name="name"/> is null or not a supported dtype.</returns>
    public static bool TryParse([NotNullWhen(true)] string? name, out SafetensorsDType dtype)
    {
        dtype = name switch
        {
            "BOOL" => SafetensorsDType.Bool,
            "U8" => SafetensorsDType.U8,
            "I8" => SafetensorsDType.I8,
            "F8_E5M2" => SafetensorsDType.F8E5M2,
            "F8_E4M3" => SafetensorsDType.F8E4M3,
            "F8_E8M0" => SafetensorsDType.F8E8M0,
            "I16" => SafetensorsDType.I16,
            "U16" => SafetensorsDType.U16,
            "F16" => SafetensorsDType.F16,
            "BF16" => SafetensorsDType.BF16,
            "I32" => SafetensorsDType.I32,
            "U32" => SafetensorsDType.U32,
            "F32" => SafetensorsDType.F32,
            "F64" => SafetensorsDType.F64,
            "C64" => SafetensorsDType.C64,
            "I64" => SafetensorsDType.I64,
            "U64" => SafetensorsDType.U64,
            _ => default,
        };
        return dtype != default;
    }
}
