using FsCheck.Xunit;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using KvTier.Gpu;
using KvTier.Gpu.Kernels;
using KvTier.Gpu.Reference;
using KvTier.Layout;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// The CPU SIMD re-rotation of K (<see cref="RopeRotation"/>) against the scalar reference and the ILGPU kernel (bit for
/// bit), against itself (rotations compose and invert, to rounding), and its argument checks.
/// </summary>
public sealed class RopeRotationTests(RopeRotationTests.CpuAccelerator gpu) : IClassFixture<RopeRotationTests.CpuAccelerator>
{
    /// <summary>ILGPU's CPU accelerator and a compiled re-rotation kernel, shared by the class (compiling is the slow part).</summary>
    public sealed class CpuAccelerator : IDisposable
    {
        public CpuAccelerator()
        {
            Context = Context.Create(builder => builder.CPU().EnableAlgorithms());
            Accelerator = AcceleratorSelection.CreateCpuForTests(Context);
            Rerotator = new GpuRopeRerotator(Accelerator);
        }

        public Context Context { get; }

        public Accelerator Accelerator { get; }

        public GpuRopeRerotator Rerotator { get; }

        public void Dispose()
        {
            Accelerator.Dispose();
            Context.Dispose();
        }
    }

    private static readonly int[] TokenCounts = [1, 17, 1025, 8197];
    private static readonly double[] Thetas = [10000, 500000, 1e6];
    private static readonly int[] Deltas = [0, 1, -1, 37, -4096, 100000];

    /// <summary>(head dim, rotary dims): full, partial, and head dims that leave vector tails.</summary>
    private static readonly (int HeadDim, int Rotary)[] HeadShapes =
        [(8, 8), (64, 64), (80, 80), (128, 128), (6, 6), (128, 64), (80, 32), (6, 2)];

    public static TheoryData<int, RopePairing, int, int> ReferenceCases()
    {
        var data = new TheoryData<int, RopePairing, int, int>();
        foreach (int tokens in TokenCounts)
        {
            foreach (RopePairing pairing in new[] { RopePairing.AdjacentPairs, RopePairing.SplitHalves })
            {
                foreach ((int headDim, int rotary) in HeadShapes)
                    data.Add(tokens, pairing, headDim, rotary);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void Rerotate_matches_the_scalar_reference_bit_for_bit(int tokens, RopePairing pairing, int headDim, int rotary)
    {
        int heads = tokens >= 1025 ? 1 : 3; // keeps the large token counts fast
        float[] keys = Values(tokens * heads * headDim, seed: tokens * 131 + headDim * 7 + rotary + (int)pairing);
        foreach (double theta in Thetas)
        {
            var layout = Layout(heads, headDim, rotary, pairing, theta);
            foreach (int delta in Deltas)
            {
                float[] expected = ReferenceRerotate(keys, layout, tokens, delta);
                float[] actual = (float[])keys.Clone();
                (float[] cos, float[] sin) = Table(layout, delta);
                RopeRotation.Rerotate(actual, layout, cos, sin);
                BitEqual(expected, actual, $"theta {theta}, delta {delta}");
            }
        }
    }

    /// <summary>Rotary dims past the stack limit for the expanded adjacent-pair tables, which are then rented.</summary>
    [Theory]
    [InlineData(RopePairing.AdjacentPairs, 1040, 1030)]
    [InlineData(RopePairing.SplitHalves, 1040, 1030)]
    [InlineData(RopePairing.AdjacentPairs, 4096, 4096)]
    public void Long_rotary_dims_match_the_scalar_reference(RopePairing pairing, int headDim, int rotary)
    {
        const int tokens = 5;
        var layout = Layout(2, headDim, rotary, pairing, 1e6);
        float[] keys = Values(tokens * layout.KvDim, seed: rotary);
        foreach (int delta in Deltas)
        {
            float[] expected = ReferenceRerotate(keys, layout, tokens, delta);
            (float[] cos, float[] sin) = Table(layout, delta);
            float[] actual = (float[])keys.Clone();
            RopeRotation.Rerotate(actual, layout, cos, sin);
            BitEqual(expected, actual, $"delta {delta}");
            float[] into = new float[keys.Length];
            RopeRotation.RerotateInto(keys, into, layout, cos, sin);
            BitEqual(expected, into, $"RerotateInto, delta {delta}");
        }
    }

    [Theory]
    [InlineData(RopePairing.AdjacentPairs, 128, 10000.0)]
    [InlineData(RopePairing.SplitHalves, 80, 500000.0)]
    [InlineData(RopePairing.SplitHalves, 6, 1e6)]
    [InlineData(RopePairing.AdjacentPairs, 2, 12345.678)]
    public void The_block_table_is_the_reference_table_row_for_any_token(RopePairing pairing, int rotary, double theta)
    {
        var rope = new RopeParameters(theta, rotary, pairing);
        int pairs = rotary / 2;
        int[] source = [0, 5, -7, 123456, 1 << 20];
        foreach (long delta in new long[] { 0, 1, -1, 37, -4096, 100000, int.MaxValue / 2 })
        {
            var cos = new float[pairs];
            var sin = new float[pairs];
            RopeRotation.BuildAngles(rope, delta, cos, sin);
            int[] target = Array.ConvertAll(source, p => (int)(p + delta));
            var refCos = new float[source.Length * pairs];
            var refSin = new float[refCos.Length];
            RopeReference.BuildAngles(rope, source, target, refCos, refSin);
            for (int t = 0; t < source.Length; t++)
            {
                BitEqual(refCos.AsSpan(t * pairs, pairs), cos, $"cos, delta {delta}, token {t}");
                BitEqual(refSin.AsSpan(t * pairs, pairs), sin, $"sin, delta {delta}, token {t}");
            }
        }
    }

    public static TheoryData<int, RopePairing, int, int, int, int> KernelCases()
    {
        var data = new TheoryData<int, RopePairing, int, int, int, int>();
        foreach (int tokens in new[] { 1, 17, 1025 })
        {
            data.Add(tokens, RopePairing.AdjacentPairs, 2, 8, 8, 37);
            data.Add(tokens, RopePairing.SplitHalves, 1, 80, 32, -4096);
            data.Add(tokens, RopePairing.AdjacentPairs, 1, 6, 2, 100000);
            data.Add(tokens, RopePairing.SplitHalves, 2, 6, 6, -1);
            data.Add(tokens, RopePairing.AdjacentPairs, 1, 128, 64, 1);
            data.Add(tokens, RopePairing.SplitHalves, 1, 128, 128, 0);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(KernelCases))]
    public void Rerotate_matches_the_ilgpu_kernel_bit_for_bit(int tokens, RopePairing pairing, int heads, int headDim, int rotary, int delta)
    {
        var layout = Layout(heads, headDim, rotary, pairing, 500000);
        float[] keys = Values(tokens * layout.KvDim, seed: tokens + headDim + delta);
        int[] source = new int[tokens];
        int[] target = new int[tokens];
        for (int t = 0; t < tokens; t++)
        {
            source[t] = 4096 + 3 * t;
            target[t] = source[t] + delta;
        }

        using MemoryBuffer1D<float, Stride1D.Dense> device = gpu.Accelerator.Allocate1D(keys);
        gpu.Rerotator.Rerotate(device.View, layout, source, target);
        gpu.Accelerator.Synchronize();
        float[] expected = device.GetAsArray1D();

        float[] actual = (float[])keys.Clone();
        (float[] cos, float[] sin) = Table(layout, delta);
        RopeRotation.Rerotate(actual, layout, cos, sin);
        BitEqual(expected, actual, "kernel vs SIMD");
    }

    [Theory]
    [InlineData(RopePairing.AdjacentPairs, 3, 128, 128, 37)]
    [InlineData(RopePairing.AdjacentPairs, 2, 80, 32, -4096)]
    [InlineData(RopePairing.AdjacentPairs, 1, 6, 2, 1)]
    [InlineData(RopePairing.SplitHalves, 3, 128, 64, 100000)]
    [InlineData(RopePairing.SplitHalves, 2, 80, 80, -1)]
    [InlineData(RopePairing.SplitHalves, 4, 6, 6, 0)]
    public void RerotateInto_equals_copy_then_rerotate_and_leaves_the_source_alone(RopePairing pairing, int heads, int headDim, int rotary, int delta)
    {
        const int tokens = 33, guard = 19;
        var layout = Layout(heads, headDim, rotary, pairing, 10000);
        float[] source = Values(tokens * layout.KvDim, seed: heads * headDim + rotary);
        float[] original = (float[])source.Clone();
        (float[] cos, float[] sin) = Table(layout, delta);

        float[] expected = (float[])source.Clone();
        RopeRotation.Rerotate(expected, layout, cos, sin);

        // The destination sits between guards that must survive.
        var buffer = new float[guard + source.Length + guard];
        buffer.AsSpan().Fill(float.NaN);
        RopeRotation.RerotateInto(source, buffer.AsSpan(guard, source.Length), layout, cos, sin);

        BitEqual(expected, buffer.AsSpan(guard, source.Length), "RerotateInto vs copy + Rerotate");
        BitEqual(original, source, "source after RerotateInto");
        for (int i = 0; i < guard; i++)
        {
            Assert.True(float.IsNaN(buffer[i]), $"guard before the destination overwritten at {i}");
            Assert.True(float.IsNaN(buffer[guard + source.Length + i]), $"guard after the destination overwritten at {i}");
        }

        // Channels past the rotary dimensions are copied bit for bit.
        for (int head = 0; head < tokens * heads; head++)
        {
            for (int ch = rotary; ch < headDim; ch++)
            {
                int i = head * headDim + ch;
                Assert.Equal(BitConverter.SingleToInt32Bits(original[i]), BitConverter.SingleToInt32Bits(buffer[guard + i]));
            }
        }
    }

    /// <summary>
    /// Rotating by +d then −d gives back the input to within 16u·(|x_a| + |x_b|) per channel of a pair (u = 2⁻²⁴).
    /// Why: the −d table is the exact transpose of the +d table (φ(−d) = −φ(d) exactly, cos is even and sin odd), so the
    /// only error is the rounded table's c² + s² − 1 (≤ ~2u) and the rounding of the two rotations (≤ ~2u·(|x_a| + |x_b|)
    /// each, products and a sum/difference); |d| does not enter, as φ is computed in binary64 and reduced before
    /// rounding. The bound uses the pair's magnitude because a channel's error comes from its partner too.
    /// </summary>
    [Theory]
    [InlineData(RopePairing.AdjacentPairs)]
    [InlineData(RopePairing.SplitHalves)]
    public void Rotating_by_d_then_minus_d_restores_the_keys(RopePairing pairing)
    {
        const int tokens = 64;
        var layout = Layout(2, 80, 64, pairing, 500000);
        float[] keys = Moderate(tokens * layout.KvDim, seed: 3);
        foreach (int d in new[] { 1, -1, 37, 1000, -4096, 4096 })
        {
            float[] moved = (float[])keys.Clone();
            (float[] cos, float[] sin) = Table(layout, d);
            RopeRotation.Rerotate(moved, layout, cos, sin);
            (cos, sin) = Table(layout, -d);
            RopeRotation.Rerotate(moved, layout, cos, sin);
            AssertClose(keys, moved, layout, 16, $"+{d} then −{d}");
        }
    }

    /// <summary>Rotating by d1 then d2 matches rotating by d1 + d2 to within 24u·(|x_a| + |x_b|): three rounded rotations, each as above.</summary>
    [Theory]
    [InlineData(RopePairing.AdjacentPairs)]
    [InlineData(RopePairing.SplitHalves)]
    public void Rotations_compose(RopePairing pairing)
    {
        const int tokens = 64;
        var layout = Layout(2, 128, 128, pairing, 10000);
        float[] keys = Moderate(tokens * layout.KvDim, seed: 5);
        foreach ((int d1, int d2) in new[] { (1, 1), (37, -12), (-4096, 100), (1000, 3096), (100000, -99999) })
        {
            float[] twice = (float[])keys.Clone();
            (float[] cos, float[] sin) = Table(layout, d1);
            RopeRotation.Rerotate(twice, layout, cos, sin);
            (cos, sin) = Table(layout, d2);
            RopeRotation.Rerotate(twice, layout, cos, sin);

            float[] once = (float[])keys.Clone();
            (cos, sin) = Table(layout, d1 + d2);
            RopeRotation.Rerotate(once, layout, cos, sin);
            AssertClose(once, twice, layout, 24, $"{d1} then {d2}");
        }
    }

    /// <summary>Any layout, delta and values (finite, signed zeros, subnormals, huge): the SIMD path equals the scalar reference bit for bit.</summary>
    [Property(MaxTest = 300)]
    public void Simd_equals_the_scalar_reference_for_random_layouts(bool splitHalves, byte headDimSeed, byte rotarySeed, byte headsSeed, byte tokensSeed, int deltaSeed, int thetaSeed, int valueSeed)
    {
        int headDim = 2 + headDimSeed % 199;                 // 2 … 200
        int rotary = 2 * (1 + rotarySeed % (headDim / 2));   // even, 2 … head dim
        int heads = 1 + headsSeed % 5;
        int tokens = tokensSeed % 40;                        // 0 tokens included
        int delta = (int)((long)deltaSeed * 7919 % (1 << 24));
        double theta = (thetaSeed & 3) switch { 0 => 10000, 1 => 500000, 2 => 1e6, _ => 1 + (uint)thetaSeed % 1_000_000 / 7.0 };
        var layout = Layout(heads, headDim, rotary, splitHalves ? RopePairing.SplitHalves : RopePairing.AdjacentPairs, theta);
        float[] keys = Values(tokens * layout.KvDim, valueSeed);

        float[] expected = ReferenceRerotate(keys, layout, tokens, delta);
        float[] actual = (float[])keys.Clone();
        (float[] cos, float[] sin) = Table(layout, delta);
        RopeRotation.Rerotate(actual, layout, cos, sin);
        BitEqual(expected, actual, $"head dim {headDim}, rotary {rotary}, heads {heads}, tokens {tokens}, delta {delta}, theta {theta}");

        float[] into = new float[keys.Length];
        RopeRotation.RerotateInto(keys, into, layout, cos, sin);
        BitEqual(expected, into, "RerotateInto");
    }

    [Fact]
    public void A_layout_without_rope_is_rejected()
    {
        var layout = new KvLayout(1, 2, 8, KvElementType.Float32, RopeParameters.None, keysStoredAfterRope: false);
        float[] keys = new float[16];
        Assert.Throws<ArgumentException>(() => RopeRotation.Rerotate(keys, layout, [], []));
        Assert.Throws<ArgumentException>(() => RopeRotation.RerotateInto(keys, new float[16], layout, [], []));
        Assert.Throws<ArgumentException>(() => RopeRotation.BuildAngles(RopeParameters.None, 1, [], []));
    }

    [Fact]
    public void A_table_of_the_wrong_length_is_rejected()
    {
        var layout = Layout(2, 8, 8, RopePairing.AdjacentPairs, 10000);
        float[] keys = new float[2 * layout.KvDim];
        Assert.Throws<ArgumentException>(() => RopeRotation.Rerotate(keys, layout, new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => RopeRotation.Rerotate(keys, layout, new float[4], new float[5]));
        Assert.Throws<ArgumentException>(() => RopeRotation.Rerotate(keys, layout, new float[8], new float[8]));
        Assert.Throws<ArgumentException>(() => RopeRotation.RerotateInto(keys, new float[keys.Length], layout, new float[2], new float[2]));
        Assert.Throws<ArgumentException>(() => RopeRotation.BuildAngles(layout.Rope, 1, new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => RopeRotation.BuildAngles(layout.Rope, 1, new float[4], new float[8]));
    }

    [Fact]
    public void Keys_that_are_not_whole_rows_are_rejected()
    {
        var layout = Layout(2, 8, 8, RopePairing.SplitHalves, 10000);
        (float[] cos, float[] sin) = Table(layout, 1);
        Assert.Throws<ArgumentException>(() => RopeRotation.Rerotate(new float[layout.KvDim + 8], layout, cos, sin));
        Assert.Throws<ArgumentException>(() => RopeRotation.Rerotate(new float[layout.KvDim - 1], layout, cos, sin));
        Assert.Throws<ArgumentException>(() => RopeRotation.RerotateInto(new float[layout.KvDim + 1], new float[layout.KvDim + 1], layout, cos, sin));
        Assert.Throws<ArgumentException>(() => RopeRotation.RerotateInto(new float[layout.KvDim], new float[2 * layout.KvDim], layout, cos, sin));
    }

    [Fact]
    public void Overlapping_source_and_destination_are_rejected()
    {
        var layout = Layout(1, 8, 8, RopePairing.AdjacentPairs, 10000);
        (float[] cos, float[] sin) = Table(layout, 1);
        float[] buffer = Values(4 * layout.KvDim, seed: 9);
        float[] before = (float[])buffer.Clone();
        int n = 2 * layout.KvDim;
        Assert.Throws<ArgumentException>(() => RopeRotation.RerotateInto(buffer.AsSpan(0, n), buffer.AsSpan(layout.KvDim, n), layout, cos, sin));
        Assert.Throws<ArgumentException>(() => RopeRotation.RerotateInto(buffer.AsSpan(layout.KvDim, n), buffer.AsSpan(0, n), layout, cos, sin));
        Assert.Throws<ArgumentException>(() => RopeRotation.RerotateInto(buffer.AsSpan(0, n), buffer.AsSpan(0, n), layout, cos, sin));
        BitEqual(before, buffer, "buffer after rejected calls");
    }

    private static KvLayout Layout(int heads, int headDim, int rotary, RopePairing pairing, double theta) =>
        new(1, heads, headDim, KvElementType.Float32, new RopeParameters(theta, rotary, pairing), keysStoredAfterRope: true);

    private static (float[] Cos, float[] Sin) Table(KvLayout layout, long delta)
    {
        var cos = new float[layout.Rope.RotaryDims / 2];
        var sin = new float[cos.Length];
        RopeRotation.BuildAngles(layout.Rope, delta, cos, sin);
        return (cos, sin);
    }

    /// <summary>The scalar reference with its per-token table: every token moved by <paramref name="delta"/> from its own position.</summary>
    private static float[] ReferenceRerotate(float[] keys, KvLayout layout, int tokens, int delta)
    {
        var shape = new RopeShape(tokens, layout.KvHeads, layout.HeadDim, layout.Rope.RotaryDims, (int)layout.Rope.Pairing);
        var source = new int[tokens];
        var target = new int[tokens];
        for (int t = 0; t < tokens; t++)
        {
            source[t] = 1000 + 3 * t;
            target[t] = source[t] + delta;
        }

        var cos = new float[tokens * shape.Pairs];
        var sin = new float[cos.Length];
        RopeReference.BuildAngles(layout.Rope, source, target, cos, sin);
        float[] result = (float[])keys.Clone();
        RopeReference.Rerotate(result, cos, sin, shape);
        return result;
    }

    /// <summary>Finite values of every kind: ordinary, ±0, subnormal, tiny and huge (whose sums overflow to ±∞).</summary>
    private static float[] Values(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = random.Next(10) switch
            {
                0 => 0f,
                1 => -0f,
                2 => BitConverter.Int32BitsToSingle(random.Next(1, 0x80_0000) | (random.Next(2) << 31)), // subnormal
                3 => (float)((random.NextDouble() * 2 - 1) * float.MaxValue),
                4 => (float)((random.NextDouble() * 2 - 1) * 1e-36),
                5 => (float)((random.NextDouble() * 2 - 1) * 1e20),
                _ => (float)(random.NextDouble() * 8 - 4),
            };
        }

        return values;
    }

    /// <summary>Ordinary values in [−4, 4), for the tolerance tests.</summary>
    private static float[] Moderate(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)(random.NextDouble() * 8 - 4);
        return values;
    }

    /// <summary>Asserts |actual − expected| ≤ units·2⁻²⁴·(|x_a| + |x_b|) for every channel, the pair's magnitude taken from <paramref name="expected"/>.</summary>
    private static void AssertClose(float[] expected, float[] actual, KvLayout layout, int units, string what)
    {
        int headDim = layout.HeadDim, rotary = layout.Rope.RotaryDims, pairs = rotary / 2;
        bool split = layout.Rope.Pairing == RopePairing.SplitHalves;
        double u = Math.ScaleB(1, -24);
        for (int head = 0; head < expected.Length / headDim; head++)
        {
            for (int k = 0; k < pairs; k++)
            {
                int a = head * headDim + (split ? k : 2 * k);
                int b = a + (split ? pairs : 1);
                double bound = units * u * (Math.Abs(expected[a]) + Math.Abs(expected[b]));
                foreach (int i in new[] { a, b })
                {
                    double diff = Math.Abs((double)actual[i] - expected[i]);
                    Assert.True(diff <= bound, $"{what}: element {i}: {actual[i]} vs {expected[i]} (|diff| {diff:E3} > {bound:E3}).");
                }
            }

            for (int ch = rotary; ch < headDim; ch++)
            {
                int i = head * headDim + ch;
                Assert.Equal(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(actual[i]));
            }
        }
    }

    /// <summary>Asserts bit equality (signed zeros and NaN payloads included), naming the first differing index.</summary>
    private static void BitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            int e = BitConverter.SingleToInt32Bits(expected[i]);
            int a = BitConverter.SingleToInt32Bits(actual[i]);
            if (e != a)
                Assert.Fail($"{what}: element {i}: expected {expected[i]} (0x{e:X8}), got {actual[i]} (0x{a:X8}).");
        }
    }
}
