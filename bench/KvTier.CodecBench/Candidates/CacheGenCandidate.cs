using System.Diagnostics;
using KvTier.Reference;

namespace KvTier.CodecBench.Candidates;

/// <summary>
/// Baseline: CacheGen as released in LMCache (its <c>torch_quant</c> and default bin specs), sized with IDEAL
/// entropy coding — for every (layer, K/V, channel) the empirical entropy of its symbols — plus what it ships
/// besides: one 16-bit CDF entry per bin and channel, and one fp16 scale per token, layer and K/V. A real
/// arithmetic coder spends slightly more, so this baseline is, if anything, flattered.
/// Quantization (per token over all channels of a layer): <c>C = bins/2 − 1</c>, <c>max = max|x|</c>,
/// <c>q = round(x·C/max)</c>, <c>x' = q/C·max</c>. Bins: K 32 in the first third of the layers and 16 after;
/// V 32 in the first 2/32 of the layers (at least one) and 16 after, as LMCache's defaults for 32-layer models.
/// </summary>
internal sealed class CacheGenCandidate : ICodecCandidate
{
    public string Name => "cachegen";

    public string Family => "cachegen";

    public CandidateResult Run(KvCache exact, int tokens)
    {
        int kvDim = exact.KvDim;
        int layers = exact.Layers;
        int earlyKeys = (layers + 2) / 3;
        int earlyValues = Math.Max(1, (int)Math.Ceiling(layers * 2 / 32.0));
        var decoded = new KvCache(layers, kvDim, exact.Capacity);
        double bits = 0;
        var watch = Stopwatch.StartNew();
        for (int layer = 0; layer < layers; layer++)
        {
            bits += Section(exact.Keys(layer)[..(tokens * kvDim)], decoded.WritableKeys(layer), tokens, kvDim, layer < earlyKeys ? 32 : 16);
            bits += Section(exact.Values(layer)[..(tokens * kvDim)], decoded.WritableValues(layer), tokens, kvDim, layer < earlyValues ? 32 : 16);
        }

        decoded.SetLength(tokens);
        double seconds = watch.Elapsed.TotalSeconds;
        // Quantization and dequantization share one pass here; their time is reported for both, as a rough guide only.
        return new CandidateResult((long)Math.Ceiling(bits / 8), decoded, seconds, seconds);
    }

    private static double Section(ReadOnlySpan<float> x, Span<float> output, int tokens, int kvDim, int bins)
    {
        int c = bins / 2 - 1;
        int alphabet = 2 * c + 1;
        var q = new int[tokens * kvDim];
        for (int t = 0; t < tokens; t++)
        {
            ReadOnlySpan<float> row = x.Slice(t * kvDim, kvDim);
            float max = 0;
            foreach (float v in row)
                max = MathF.Max(max, MathF.Abs(v));
            for (int i = 0; i < kvDim; i++)
            {
                int level = max == 0 ? 0 : (int)MathF.Round(row[i] * (c / max));
                q[t * kvDim + i] = level;
                output[t * kvDim + i] = max == 0 ? 0 : level / (float)c * max;
            }
        }

        double bits = tokens * 16.0; // fp16 scale per token
        var counts = new int[alphabet];
        for (int channel = 0; channel < kvDim; channel++)
        {
            Array.Clear(counts);
            for (int t = 0; t < tokens; t++)
                counts[q[t * kvDim + channel] + c]++;
            foreach (int n in counts)
            {
                if (n > 0)
                    bits -= n * Math.Log2(n / (double)tokens);
            }

            bits += (bins + 1) * 16.0; // the channel's CDF
        }

        return bits;
    }
}
