using System.Text.Json.Nodes;
using ILGPU.Runtime;
using KvTier.Gpu;
using KvTier.Gpu.Kernels;
using KvTier.Gpu.Reference;
using KvTier.Layout;

namespace KvTier.GpuCheck;

/// <summary>
/// RoPE re-rotation of K on the device (<see cref="GpuRopeRerotator"/>) against the scalar reference
/// (<see cref="RopeReference.Rerotate"/>) on an 8B-class layout (8 KV heads × 128). On the CPU accelerator the two agree
/// bit for bit; a GPU compiler may fuse a multiply and an add into one FMA and round once instead of twice, so a
/// difference of 1 ulp is reported, not failed. More than 1 ulp fails.
/// </summary>
internal static class RopeCheck
{
    /// <summary>The largest difference that passes, in units in the last place.</summary>
    public const long ToleranceUlps = 1;

    public static JsonObject Run(Accelerator accelerator, int tokens)
    {
        var rerotator = new GpuRopeRerotator(accelerator);
        var cases = new JsonArray();
        long worst = 0;
        foreach ((RopePairing pairing, double theta, string model) in new[]
        {
            (RopePairing.SplitHalves, 500000.0, "Llama 3 8B (split halves, theta 500000)"),
            (RopePairing.AdjacentPairs, 10000.0, "llama.cpp-style (adjacent pairs, theta 10000)"),
        })
        {
            var layout = new KvLayout(1, 8, 128, KvElementType.Float16, new RopeParameters(theta, 128, pairing), keysStoredAfterRope: true);
            JsonObject result = Compare(accelerator, rerotator, layout, tokens);
            result["case"] = model;
            worst = Math.Max(worst, (long)result["maxUlp"]!);
            cases.Add(result);
        }

        return new JsonObject
        {
            ["tokens"] = tokens,
            ["maxUlp"] = worst,
            ["toleranceUlp"] = ToleranceUlps,
            ["ok"] = worst <= ToleranceUlps,
            ["cases"] = cases,
        };
    }

    private static JsonObject Compare(Accelerator accelerator, GpuRopeRerotator rerotator, KvLayout layout, int tokens)
    {
        var random = new Random(20261129);
        var keys = new float[tokens * layout.KvDim];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = (float)(random.NextDouble() * 8 - 4);
        var source = new int[tokens];
        var target = new int[tokens];
        for (int t = 0; t < tokens; t++)
        {
            source[t] = 100 + t;
            target[t] = random.Next(0, 1 << 17);
        }

        var shape = new RopeShape(tokens, layout.KvHeads, layout.HeadDim, layout.Rope.RotaryDims, (int)layout.Rope.Pairing);
        var cos = new float[tokens * shape.Pairs];
        var sin = new float[cos.Length];
        RopeReference.BuildAngles(layout.Rope, source, target, cos, sin);
        float[] expected = (float[])keys.Clone();
        RopeReference.Rerotate(expected, cos, sin, shape);

        using MemoryBuffer1D<float, ILGPU.Stride1D.Dense> device = accelerator.Allocate1D(keys);
        rerotator.Rerotate(device.View, layout, source, target);
        accelerator.Synchronize();
        float[] actual = device.GetAsArray1D();

        long maxUlp = 0;
        int differing = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            long ulp = Math.Abs(Ordered(expected[i]) - Ordered(actual[i]));
            if (ulp != 0)
                differing++;
            maxUlp = Math.Max(maxUlp, ulp);
        }

        return new JsonObject
        {
            ["elements"] = expected.Length,
            ["maxUlp"] = maxUlp,
            ["differingElements"] = differing,
            ["bitIdentical"] = differing == 0,
        };
    }

    /// <summary>Maps binary32 bits onto a line where adjacent floats are adjacent integers (−0 and +0 both at 0).</summary>
    private static long Ordered(float value)
    {
        int bits = BitConverter.SingleToInt32Bits(value);
        return bits < 0 ? int.MinValue - (long)bits : bits;
    }
}
