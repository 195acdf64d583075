using ILGPU;

namespace KvTier.Gpu.Kernels;

/// <summary>
/// Element conversion (format-spec/kvtier-format.md §10) on the device, in integer bit arithmetic only, so that every
/// backend gives the same bits as .NET's <see cref="System.Half"/> conversions and the spec's bf16 rule:
/// <list type="bullet">
/// <item>widening f16 and bf16 to binary32 is exact (raw decode, §7, and f16 ans scales, §9.1);</item>
/// <item>rounding binary32 to f16 or bf16 and back (what a lossy decode yields, §8, §9.4) rounds to nearest, ties to
/// even; f16 overflow gives ±infinity; a NaN keeps its sign and becomes a quiet NaN as .NET's conversions make it.</item>
/// </list>
/// Every kernel is one thread per element with a bounds guard; the scalar references are in
/// <see cref="Reference.ElementReference"/>.
/// </summary>
public static class ElementKernels
{
    /// <summary><c>output[i] = f32(bits[i])</c>: f16 bits widened exactly.</summary>
    public static void WidenHalf(Index1D index, ArrayView<ushort> bits, ArrayView<float> output)
    {
        if (index >= output.Length || index >= bits.Length)
            return;
        output[index] = Interop.IntAsFloat(HalfBitsToSingleBits(bits[index]));
    }

    /// <summary><c>output[i] = f32(bits[i])</c>: bf16 bits widened exactly (the upper half of a binary32).</summary>
    public static void WidenBFloat16(Index1D index, ArrayView<ushort> bits, ArrayView<float> output)
    {
        if (index >= output.Length || index >= bits.Length)
            return;
        output[index] = Interop.IntAsFloat((uint)bits[index] << 16);
    }

    /// <summary><c>output[i] = bits[i]</c> read as a binary32 (the raw f32 payload, copied to a float view).</summary>
    public static void WidenSingle(Index1D index, ArrayView<uint> bits, ArrayView<float> output)
    {
        if (index >= output.Length || index >= bits.Length)
            return;
        output[index] = Interop.IntAsFloat(bits[index]);
    }

    /// <summary><c>values[i] = f32(f16(values[i]))</c> in place: the binary32 value an f16 element holds.</summary>
    public static void RoundToHalf(Index1D index, ArrayView<float> values)
    {
        if (index >= values.Length)
            return;
        values[index] = Interop.IntAsFloat(HalfBitsToSingleBits(SingleBitsToHalfBits(Interop.FloatAsInt(values[index]))));
    }

    /// <summary><c>values[i] = f32(bf16(values[i]))</c> in place: the binary32 value a bf16 element holds.</summary>
    public static void RoundToBFloat16(Index1D index, ArrayView<float> values)
    {
        if (index >= values.Length)
            return;
        values[index] = Interop.IntAsFloat((uint)SingleBitsToBFloat16Bits(Interop.FloatAsInt(values[index])) << 16);
    }

    /// <summary><c>output[i] = f16(values[i])</c>: narrowing to f16 element bits (round to nearest even).</summary>
    public static void NarrowToHalf(Index1D index, ArrayView<float> values, ArrayView<ushort> output)
    {
        if (index >= values.Length || index >= output.Length)
            return;
        output[index] = SingleBitsToHalfBits(Interop.FloatAsInt(values[index]));
    }

    /// <summary><c>output[i] = bf16(values[i])</c>: narrowing to bf16 element bits (§10's rounding).</summary>
    public static void NarrowToBFloat16(Index1D index, ArrayView<float> values, ArrayView<ushort> output)
    {
        if (index >= values.Length || index >= output.Length)
            return;
        output[index] = SingleBitsToBFloat16Bits(Interop.FloatAsInt(values[index]));
    }

    /// <summary>binary32 bits of an f16 value (exact). NaN: sign, all-ones exponent, quiet bit set, payload shifted up (as .NET's <c>(float)Half</c>).</summary>
    internal static uint HalfBitsToSingleBits(ushort half)
    {
        uint sign = (uint)(half & 0x8000) << 16;
        uint exponent = (uint)(half >> 10) & 0x1F;
        uint mantissa = (uint)half & 0x3FF;
        if (exponent == 0x1F)
            return sign | 0x7F800000u | (mantissa << 13) | (mantissa != 0 ? 0x00400000u : 0u);
        if (exponent != 0)
            return sign | ((exponent + 112) << 23) | (mantissa << 13);
        if (mantissa == 0)
            return sign;

        // Subnormal f16 (mantissa · 2^-24): normalize into a binary32 exponent.
        uint e = 113;
        while ((mantissa & 0x400) == 0)
        {
            mantissa <<= 1;
            e--;
        }

        return sign | (e << 23) | ((mantissa & 0x3FF) << 13);
    }

    /// <summary>f16 bits of a binary32 value, round to nearest even; overflow to ±infinity; NaN as .NET's <c>(Half)float</c> (quiet, payload's top bits kept).</summary>
    internal static ushort SingleBitsToHalfBits(uint bits)
    {
        uint sign = (bits >> 16) & 0x8000;
        uint magnitude = bits & 0x7FFFFFFF;
        if (magnitude > 0x7F800000)
            return (ushort)(sign | 0x7E00 | ((magnitude & 0x7FFFFF) >> 13));
        if (magnitude >= 0x477FF000) // 65520 and up (the tie above 65504 rounds to even, which is infinity)
            return (ushort)(sign | 0x7C00);
        if (magnitude >= 0x38800000)
        {
            // Normal f16: rebias the exponent (127 → 15), round off 13 mantissa bits; a carry moves into the exponent.
            uint rebased = magnitude - 0x38000000;
            uint result = rebased >> 13;
            uint rest = rebased & 0x1FFF;
            if (rest > 0x1000 || (rest == 0x1000 && (result & 1) != 0))
                result++;
            return (ushort)(sign | result);
        }

        int exponent = (int)(magnitude >> 23);
        if (exponent < 102) // below 2^-25: rounds to zero
            return (ushort)sign;

        // Subnormal f16: the value is m · 2^(e−150) = k · 2^-24, so k = m >> (126 − e), rounded to nearest even.
        uint m = (magnitude & 0x7FFFFF) | 0x800000;
        int shift = 126 - exponent; // 14..24
        uint k = m >> shift;
        uint remainder = m & ((1u << shift) - 1);
        uint half = 1u << (shift - 1);
        if (remainder > half || (remainder == half && (k & 1) != 0))
            k++;
        return (ushort)(sign | k);
    }

    /// <summary>bf16 bits of a binary32 value (§10): <c>bits + 0x7FFF + ((bits &gt;&gt; 16) &amp; 1)</c>, then <c>&gt;&gt; 16</c>; NaN becomes the quiet NaN with its sign.</summary>
    internal static ushort SingleBitsToBFloat16Bits(uint bits)
    {
        if ((bits & 0x7FFFFFFF) > 0x7F800000)
            return (ushort)(((bits >> 16) & 0x8000) | 0x7FC0);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }
}
