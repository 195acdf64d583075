using KvTier.Gpu.Reference;
using Xunit;

namespace KvTier.Gpu.Tests.Kernels;

/// <summary>q8 dequantization (§8) against its scalar reference, bit for bit.</summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class Q8KernelTests(CpuAcceleratorFixture gpu)
{
    private const int Heads = 3, HeadDim = 5;

    private (byte[] Quantized, float[] Scales) Inputs(int tokens, int seed)
    {
        var random = new Random(seed);
        var quantized = new byte[tokens * Heads * HeadDim];
        var scales = new float[tokens * Heads];
        for (int i = 0; i < quantized.Length; i++)
            quantized[i] = (byte)(sbyte)random.Next(-127, 128);
        for (int g = 0; g < scales.Length; g++)
            scales[g] = g % 7 == 0 ? 0 : (float)(random.NextDouble() * Math.Pow(2, random.Next(-20, 20)));
        return (quantized, scales);
    }

    [Theory]
    [MemberData(nameof(Sizes.TokenData), MemberType = typeof(Sizes))]
    public void Dequantize_matches_the_reference(int tokens)
    {
        (byte[] quantized, float[] scales) = Inputs(tokens, tokens);
        var expected = new float[quantized.Length];
        Assert.True(Q8Reference.Dequantize(quantized, scales, expected, HeadDim));

        using var q = gpu.Upload(quantized);
        using var s = gpu.Upload(scales);
        using var output = gpu.Accelerator.Allocate1D<float>(quantized.Length);
        using var fault = gpu.Upload(new int[1]);
        gpu.Kernels.Q8Dequantize(quantized.Length, q.View, s.View, output.View, fault.View, HeadDim);
        Sizes.BitEqual(expected, gpu.Download(output));
        Assert.Equal(0, gpu.Download(fault)[0]);
    }

    [Fact]
    public void A_minus_128_byte_is_a_fault_in_kernel_and_reference()
    {
        (byte[] quantized, float[] scales) = Inputs(17, 5);
        quantized[40] = 0x80;
        Assert.False(Q8Reference.Dequantize(quantized, scales, new float[quantized.Length], HeadDim));
        using var q = gpu.Upload(quantized);
        using var s = gpu.Upload(scales);
        using var output = gpu.Accelerator.Allocate1D<float>(quantized.Length);
        using var fault = gpu.Upload(new int[1]);
        gpu.Kernels.Q8Dequantize(quantized.Length, q.View, s.View, output.View, fault.View, HeadDim);
        Assert.Equal(1, gpu.Download(fault)[0]);
    }
}
