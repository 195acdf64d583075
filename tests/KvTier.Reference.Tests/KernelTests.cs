using KvTier.Reference;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>The SIMD kernels agree bit for bit with their scalar references; greedy choice and printing follow llama2.c.</summary>
public sealed class KernelTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(17)]
    [InlineData(64)]
    [InlineData(172)]
    [InlineData(1025)]
    [InlineData(8197)]
    public void DotProductMatchesTheScalarReferenceBitForBit(int length)
    {
        var random = new Random(length);
        float[] a = [.. Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        float[] b = [.. Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1))];

        float simd = VectorMath.Dot(a, b);
        float scalar = VectorMath.DotReference(a, b);
        double exact = Enumerable.Range(0, length).Sum(i => (double)a[i] * b[i]);

        Assert.Equal(BitConverter.SingleToInt32Bits(scalar), BitConverter.SingleToInt32Bits(simd));
        Assert.True(Math.Abs(simd - exact) <= 1e-5 * Math.Max(1, length), $"{simd} vs {exact}");
    }

    [Fact]
    public void ArgmaxTakesTheFirstMaximum()
    {
        Assert.Equal(1, GreedySampler.Argmax([0f, 3f, 3f, 1f]));
        Assert.Equal(0, GreedySampler.Argmax([float.NaN, 5f])); // as in C: 5 > NaN is false, so a leading NaN is never beaten
        Assert.Equal(2, GreedySampler.Argmax([1f, float.NaN, 2f]));
        Assert.Equal(0, GreedySampler.Argmax([-1f]));
        Assert.Throws<ArgumentException>(() => GreedySampler.Argmax([]));
    }

    [Theory]
    [InlineData(new byte[] { 0x41 }, new byte[] { 0x41 })]
    [InlineData(new byte[] { 0x0A }, new byte[] { 0x0A })]       // whitespace is printed
    [InlineData(new byte[] { 0x01 }, new byte[] { })]            // control byte dropped
    [InlineData(new byte[] { 0xF0 }, new byte[] { })]            // lone high byte dropped
    [InlineData(new byte[] { 0x00 }, new byte[] { })]            // NUL ends the C string
    [InlineData(new byte[] { 0x61, 0x00, 0x62 }, new byte[] { 0x61 })]
    [InlineData(new byte[] { 0xC3, 0xA9 }, new byte[] { 0xC3, 0xA9 })] // multi-byte pieces pass
    public void PrintedPiecesFollowSafePrintf(byte[] piece, byte[] printed)
    {
        Assert.Equal(printed, LlamaSession.Printable(piece).ToArray());
    }

    [Fact]
    public void ConfigRejectsInconsistentShapes()
    {
        Assert.Throws<ArgumentException>(() => new LlamaConfig(64, 172, 5, 7, 1, 512, 512, true));
        Assert.Throws<ArgumentException>(() => new LlamaConfig(64, 172, 5, 8, 3, 512, 512, true));
        var config = new LlamaConfig(64, 172, 5, 8, 4, 512, 512, true);
        Assert.Equal((8, 32, 2), (config.HeadSize, config.KvDim, config.QueryHeadsPerKvHead));
    }
}
