namespace KvTier.Gpu.Reference;

/// <summary>
/// Scalar references for <see cref="Kernels.ElementKernels"/>: plain loops over .NET's own <see cref="Half"/>
/// conversions and the spec's bf16 rule (format-spec/kvtier-format.md §10), independent of the kernels' bit arithmetic.
/// </summary>
public static class ElementReference
{
    /// <summary>f16 bits widened to binary32.</summary>
    public static void WidenHalf(ReadOnlySpan<ushort> bits, Span<float> output)
    {
        for (int i = 0; i < bits.Length; i++)
            output[i] = (float)BitConverter.UInt16BitsToHalf(bits[i]);
    }

    /// <summary>bf16 bits widened to binary32.</summary>
    public static void WidenBFloat16(ReadOnlySpan<ushort> bits, Span<float> output)
    {
        for (int i = 0; i < bits.Length; i++)
            output[i] = BitConverter.UInt32BitsToSingle((uint)bits[i] << 16);
    }

    /// <summary>binary32 bits read as binary32.</summary>
    public static void WidenSingle(ReadOnlySpan<uint> bits, Span<float> output)
    {
        for (int i = 0; i < bits.Length; i++)
            output[i] = BitConverter.UInt32BitsToSingle(bits[i]);
    }

    /// <summary>Each value rounded to f16 and widened back.</summary>
    public static void RoundToHalf(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)(Half)values[i];
    }

    /// <summary>Each value rounded to bf16 and widened back.</summary>
    public static void RoundToBFloat16(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = BitConverter.UInt32BitsToSingle((uint)ToBFloat16(values[i]) << 16);
    }

    /// <summary>Each value narrowed to f16 bits.</summary>
    public static void NarrowToHalf(ReadOnlySpan<float> values, Span<ushort> output)
    {
        for (int i = 0; i < values.Length; i++)
            output[i] = BitConverter.HalfToUInt16Bits((Half)values[i]);
    }

    /// <summary>Each value narrowed to bf16 bits.</summary>
    public static void NarrowToBFloat16(ReadOnlySpan<float> values, Span<ushort> output)
    {
        for (int i = 0; i < values.Length; i++)
            output[i] = ToBFloat16(values[i]);
    }

    private static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
            return (ushort)((bits >> 16 & 0x8000) | 0x7FC0);
        bits += 0x7FFF + (bits >> 16 & 1);
        return (ushort)(bits >> 16);
    }
}
