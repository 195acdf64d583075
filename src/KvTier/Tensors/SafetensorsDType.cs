namespace KvTier.Tensors;

/// <summary>
/// The element types of the safetensors format that KvTier reads and writes: every byte-sized or wider
/// type of the reference implementation. Member names are the header's <c>"dtype"</c> strings
/// (see <see cref="SafetensorsDTypes.GetName"/>); sub-byte types (F4, F6_*) are not supported and a
/// file that declares one is rejected as unknown.
/// </summary>
/// <remarks>The numeric values are KvTier's own and never stored; the header stores the name.</remarks>
public enum SafetensorsDType : byte
{
    /// <summary><c>"BOOL"</c>: one byte per element, 0 or 1.</summary>
    Bool = 1,

    /// <summary><c>"U8"</c>: unsigned 8-bit integer.</summary>
    U8 = 2,

    /// <summary><c>"I8"</c>: signed 8-bit integer.</summary>
    I8 = 3,

    /// <summary><c>"F8_E5M2"</c>: 8-bit float, 5 exponent and 2 mantissa bits.</summary>
    F8E5M2 = 4,

    /// <summary><c>"F8_E4M3"</c>: 8-bit float, 4 exponent and 3 mantissa bits.</summary>
    F8E4M3 = 5,

    /// <summary><c>"F8_E8M0"</c>: 8-bit exponent-only scale factor.</summary>
    F8E8M0 = 6,

    /// <summary><c>"I16"</c>: signed 16-bit integer, little-endian.</summary>
    I16 = 7,

    /// <summary><c>"U16"</c>: unsigned 16-bit integer, little-endian.</summary>
    U16 = 8,

    /// <summary><c>"F16"</c>: IEEE-754 binary16, little-endian.</summary>
    F16 = 9,

    /// <summary><c>"BF16"</c>: bfloat16 (the top 16 bits of a binary32), little-endian.</summary>
    BF16 = 10,

    /// <summary><c>"I32"</c>: signed 32-bit integer, little-endian.</summary>
    I32 = 11,

    /// <summary><c>"U32"</c>: unsigned 32-bit integer, little-endian.</summary>
    U32 = 12,

    /// <summary><c>"F32"</c>: IEEE-754 binary32, little-endian.</summary>
    F32 = 13,

    /// <summary><c>"F64"</c>: IEEE-754 binary64, little-endian.</summary>
    F64 = 14,

    /// <summary><c>"C64"</c>: complex number of two binary32 (real, imaginary), little-endian.</summary>
    C64 = 15,

    /// <summary><c>"I64"</c>: signed 64-bit integer, little-endian.</summary>
    I64 = 16,

    /// <summary><c>"U64"</c>: unsigned 64-bit integer, little-endian.</summary>
    U64 = 17,
}
