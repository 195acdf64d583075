namespace KvTier.Gpu.Reference;

/// <summary>Scalar reference for <see cref="Kernels.Q8Kernels.Dequantize"/> (format-spec/kvtier-format.md §8).</summary>
public static class Q8Reference
{
    /// <summary><c>output[i] = f32((sbyte)quantized[i]) × scales[i div headDim]</c>; false when a byte is −128.</summary>
    public static bool Dequantize(ReadOnlySpan<byte> quantized, ReadOnlySpan<float> scales, Span<float> output, int headDim)
    {
        bool valid = true;
        for (int i = 0; i < output.Length; i++)
        {
            int q = (sbyte)quantized[i];
            valid &= q != -128;
            output[i] = q * scales[i / headDim];
        }

        return valid;
    }
}
