using KvTier.Format.Codecs.Ans;
using KvTier.Format.Codecs;
using KvTier.Layout;

namespace KvTier.Format.Tests.Codecs;

/// <summary>Section shapes and contents for the ans codec tests.</summary>
internal static class AnsTestData
{
    /// <summary>1 when prediction can be forced at this level's bound for the section (B ≤ 63, §9.1), else 0.</summary>
    public static int MaxPrediction(in SectionContext context, int level) =>
        AnsCodec.Bound(level, context.Layer, context.Layout.Layers, context.Kind) <= AnsFormat.MaxPredictedBound ? 1 : 0;

    public static KvLayout Layout(int kvHeads, int headDim, int layers = 3) =>
        new(layers, kvHeads, headDim, KvElementType.Float32, RopeParameters.None, keysStoredAfterRope: false);

    public static SectionContext Context(int tokens, int kvHeads, int headDim, SectionKind kind = SectionKind.Keys, int layer = 0, int layers = 3) =>
        new(Layout(kvHeads, headDim, layers), tokens, layer, kind, "test", 0);

    /// <summary>Uniform noise in [−range, range].</summary>
    public static float[] Random(int count, int seed, float range = 4f)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = range * (2 * random.NextSingle() - 1);
        return values;
    }

    /// <summary>
    /// KV-like content: per channel a slowly varying signal with its own offset and amplitude, a few outlier channels
    /// (as real keys have), small noise, and rare spikes.
    /// </summary>
    public static float[] Smooth(int tokens, int kvDim, int seed)
    {
        var random = new Random(seed);
        var offset = new float[kvDim];
        var amplitude = new float[kvDim];
        var frequency = new float[kvDim];
        for (int c = 0; c < kvDim; c++)
        {
            offset[c] = 0.5f * (random.NextSingle() - 0.5f);
            amplitude[c] = (c % 37 == 5 ? 12f : 1f) * (0.2f + random.NextSingle());
            frequency[c] = 0.01f + 0.2f * random.NextSingle();
        }

        var values = new float[tokens * kvDim];
        for (int t = 0; t < tokens; t++)
        {
            for (int c = 0; c < kvDim; c++)
            {
                float x = offset[c] + amplitude[c] * MathF.Sin(frequency[c] * t + c) + 0.05f * (random.NextSingle() - 0.5f);
                if (random.Next(1000) == 0)
                    x *= 6;
                values[t * kvDim + c] = x;
            }
        }

        return values;
    }

    public static float[] Constant(int count, float value) => Enumerable.Repeat(value, count).ToArray();

    /// <summary>Values as their bit patterns, so that equality is bit for bit (−0 ≠ +0).</summary>
    public static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
