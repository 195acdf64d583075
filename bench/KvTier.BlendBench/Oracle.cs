using KvTier.Blend;
using KvTier.Reference;

namespace KvTier.BlendBench;

/// <summary>
/// Not a method: what a selector that knew the answer would pick. Each reused position is scored by its true relative
/// KV deviation from the full prefill, summed over layers 1 to L−1, so the selection is the best any KV-deviation
/// selector could make at the share. It bounds how far better selection can go on this model.
/// </summary>
internal static class Oracle
{
    public static RecomputeOptions Options(BlendedKv kv, KvCache full)
    {
        int kvDim = kv.Layout.KvDim;
        var scores = new double[kv.TokenCount];
        for (int layer = 1; layer < kv.Layout.Layers; layer++)
        {
            ReadOnlySpan<float> keys = kv.Keys(layer), values = kv.Values(layer);
            ReadOnlySpan<float> fullKeys = full.Keys(layer), fullValues = full.Values(layer);
            for (int t = 0; t < kv.TokenCount; t++)
            {
                double distance = 0, norm = 0;
                for (int i = t * kvDim; i < (t + 1) * kvDim; i++)
                {
                    distance += Square(keys[i] - fullKeys[i]) + Square(values[i] - fullValues[i]);
                    norm += Square(fullKeys[i]) + Square(fullValues[i]);
                }

                scores[t] += distance / Math.Max(norm, double.Epsilon);
            }
        }

        return new RecomputeOptions { Scorer = (_, position, _, _, _, _) => scores[position] };
    }

    private static double Square(double x) => x * x;
}
