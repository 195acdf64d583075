using System.Diagnostics;
using KvTier.Reference;

namespace KvTier.CodecBench.Candidates;

/// <summary>
/// Baseline: KIVI-style 2-bit asymmetric quantization — keys per channel in groups of 32 tokens, values per token
/// in groups of 32 channels (or the whole row when narrower) — with an fp16 minimum and scale per group. Size:
/// 2 bits per element plus 32 bits per group; KIVI's full-precision window of recent tokens does not apply to a
/// stored chunk.
/// </summary>
internal sealed class KiviCandidate : ICodecCandidate
{
    private const int Group = 32;

    public string Name => "kivi-2bit";

    public string Family => "kivi-2bit";

    public CandidateResult Run(KvCache exact, int tokens)
    {
        int kvDim = exact.KvDim;
        var decoded = new KvCache(exact.Layers, kvDim, exact.Capacity);
        long groups = 0;
        var watch = Stopwatch.StartNew();
        for (int layer = 0; layer < exact.Layers; layer++)
        {
            // Keys: per channel, groups along tokens.
            ReadOnlySpan<float> k = exact.Keys(layer);
            Span<float> kOut = decoded.WritableKeys(layer);
            for (int channel = 0; channel < kvDim; channel++)
            {
                for (int start = 0; start < tokens; start += Group, groups++)
                    Quantize(k, kOut, start * kvDim + channel, Math.Min(Group, tokens - start), kvDim);
            }

            // Values: per token, groups along channels.
            ReadOnlySpan<float> v = exact.Values(layer);
            Span<float> vOut = decoded.WritableValues(layer);
            int width = Math.Min(Group, kvDim);
            for (int t = 0; t < tokens; t++)
            {
                for (int start = 0; start < kvDim; start += width, groups++)
                    Quantize(v, vOut, t * kvDim + start, Math.Min(width, kvDim - start), 1);
            }
        }

        decoded.SetLength(tokens);
        double seconds = watch.Elapsed.TotalSeconds;
        long bits = 2L * exact.Layers * 2 * tokens * kvDim + 32 * groups;
        return new CandidateResult(bits / 8, decoded, seconds, seconds);
    }

    private static void Quantize(ReadOnlySpan<float> x, Span<float> output, int first, int count, int stride)
    {
        float min = float.MaxValue, max = float.MinValue;
        for (int i = 0; i < count; i++)
        {
            float value = x[first + i * stride];
            min = MathF.Min(min, value);
            max = MathF.Max(max, value);
        }

        // The group's minimum and scale are stored as fp16.
        float scale = (float)(Half)((max - min) / 3f);
        min = (float)(Half)min;
        for (int i = 0; i < count; i++)
        {
            float value = x[first + i * stride];
            float q = scale == 0 ? 0 : Math.Clamp(MathF.Round((value - min) / scale), 0, 3);
            output[first + i * stride] = q * scale + min;
        }
    }
}
