using KvTier.Gpu.Kernels;
using KvTier.Gpu.Reference;
using KvTier.Layout;
using Xunit;

namespace KvTier.Gpu.Tests.Kernels;

/// <summary>RoPE re-rotation of K against its scalar reference (bit for bit) and against RoPE itself (to rounding).</summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class RopeKernelTests(CpuAcceleratorFixture gpu)
{
    public static TheoryData<int, RopePairing, int, int, double> Cases()
    {
        var data = new TheoryData<int, RopePairing, int, int, double>();
        foreach (int tokens in Sizes.Tokens)
        {
            data.Add(tokens, RopePairing.AdjacentPairs, 6, 6, 10000);
            data.Add(tokens, RopePairing.SplitHalves, 6, 6, 500000);
            data.Add(tokens, RopePairing.AdjacentPairs, 10, 4, 1e6);   // partial rotary dims
            data.Add(tokens, RopePairing.SplitHalves, 10, 6, 12345.678); // partial, odd theta
        }

        return data;
    }

    private static (float[] Keys, int[] Source, int[] Target) Inputs(int tokens, int kvDim, int seed)
    {
        var random = new Random(seed);
        var keys = new float[tokens * kvDim];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = (float)(random.NextDouble() * 8 - 4);
        var source = new int[tokens];
        var target = new int[tokens];
        for (int t = 0; t < tokens; t++)
        {
            source[t] = 100 + t;
            target[t] = t % 5 == 0 ? source[t] : random.Next(0, 1 << 20); // some tokens stay put (Δ = 0)
        }

        return (keys, source, target);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Rerotate_matches_the_reference_bit_for_bit(int tokens, RopePairing pairing, int headDim, int rotaryDims, double theta)
    {
        const int heads = 2;
        var layout = new KvLayout(1, heads, headDim, KvElementType.Float32, new RopeParameters(theta, rotaryDims, pairing), true);
        (float[] keys, int[] source, int[] target) = Inputs(tokens, layout.KvDim, tokens + headDim);
        var shape = new RopeShape(tokens, heads, headDim, rotaryDims, (int)pairing);
        var cos = new float[tokens * shape.Pairs];
        var sin = new float[cos.Length];
        RopeReference.BuildAngles(layout.Rope, source, target, cos, sin);
        float[] expected = (float[])keys.Clone();
        RopeReference.Rerotate(expected, cos, sin, shape);

        using var device = gpu.Upload(keys);
        gpu.Rerotator.Rerotate(device.View, layout, source, target);
        float[] actual = gpu.Download(device);
        Sizes.BitEqual(expected, actual);

        // Channels past rotary_dims are untouched; tokens with Δ = 0 are unchanged.
        for (int t = 0; t < tokens; t++)
        {
            for (int h = 0; h < heads; h++)
            {
                for (int c = 0; c < headDim; c++)
                {
                    int i = (t * heads + h) * headDim + c;
                    if (c >= rotaryDims || source[t] == target[t])
                        Assert.Equal(BitConverter.SingleToUInt32Bits(keys[i]), BitConverter.SingleToUInt32Bits(actual[i]));
                }
            }
        }
    }

    [Theory]
    [InlineData(RopePairing.AdjacentPairs)]
    [InlineData(RopePairing.SplitHalves)]
    public void Rerotating_roped_keys_gives_the_keys_roped_at_the_target(RopePairing pairing)
    {
        const int tokens = 17, heads = 2, headDim = 8, rotary = 6;
        var layout = new KvLayout(1, heads, headDim, KvElementType.Float32, new RopeParameters(10000, rotary, pairing), true);
        (float[] raw, int[] source, int[] target) = Inputs(tokens, layout.KvDim, 7);
        float[] atSource = Rope(raw, source, layout);
        float[] atTarget = Rope(raw, target, layout);
        using var device = gpu.Upload(atSource);
        gpu.Rerotator.Rerotate(device.View, layout, source, target);
        float[] moved = gpu.Download(device);
        for (int i = 0; i < moved.Length; i++)
            Assert.True(Math.Abs(moved[i] - atTarget[i]) < 1e-4f, $"element {i}: {moved[i]} vs {atTarget[i]}");
    }

    /// <summary>RoPE applied from scratch in binary64 (an independent statement of the math).</summary>
    private static float[] Rope(float[] keys, int[] positions, KvLayout layout)
    {
        var result = (float[])keys.Clone();
        int rotary = layout.Rope.RotaryDims, pairs = rotary / 2;
        bool split = layout.Rope.Pairing == RopePairing.SplitHalves;
        for (int t = 0; t < positions.Length; t++)
        {
            for (int h = 0; h < layout.KvHeads; h++)
            {
                for (int k = 0; k < pairs; k++)
                {
                    int a = (t * layout.KvHeads + h) * layout.HeadDim + (split ? k : 2 * k);
                    int b = a + (split ? pairs : 1);
                    double phi = positions[t] * Math.Pow(layout.Rope.Theta, -2.0 * k / rotary);
                    double xa = keys[a], xb = keys[b];
                    result[a] = (float)(xa * Math.Cos(phi) - xb * Math.Sin(phi));
                    result[b] = (float)(xa * Math.Sin(phi) + xb * Math.Cos(phi));
                }
            }
        }

        return result;
    }
}
