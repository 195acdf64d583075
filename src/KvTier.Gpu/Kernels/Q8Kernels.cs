using ILGPU;

namespace KvTier.Gpu.Kernels;

/// <summary>
/// Codec 1, <c>q8</c> (format-spec/kvtier-format.md §8), on the device: one thread per element,
/// <c>x = f32(q) × scales[t·kv_heads + c div head_dim]</c>, one binary32 multiplication as the CPU decoder does it.
/// Because (token, head) groups are row-major, element <c>i</c>'s group is simply <c>i div head_dim</c>. Scale
/// validity (finite, ≥ 0) is checked on the host before launch; a −128 byte sets <c>fault[0]</c>. Scalar reference:
/// <see cref="Reference.Q8Reference"/>.
/// </summary>
public static class Q8Kernels
{
    /// <summary>Dequantizes the section: <paramref name="quantized"/> holds the i8 values (as bytes), <paramref name="scales"/> the f32 scales.</summary>
    public static void Dequantize(Index1D index, ArrayView<byte> quantized, ArrayView<float> scales, ArrayView<float> output, ArrayView<int> fault, int headDim)
    {
        if (index >= output.Length || index >= quantized.Length)
            return;
        int q = (sbyte)quantized[index];
        if (q == -128)
            fault[0] = 1; // any thread may store it; every store writes the same value
        long group = index / headDim;
        if (group >= scales.Length)
            return;
        output[index] = q * scales[group];
    }
}
