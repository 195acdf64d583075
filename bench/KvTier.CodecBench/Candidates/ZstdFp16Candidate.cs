using System.Diagnostics;
using System.Runtime.InteropServices;
using KvTier.Reference;
using ZstdSharp;

namespace KvTier.CodecBench.Candidates;

/// <summary>Baseline: the chunk rounded to fp16 (what engines hold) and compressed losslessly with zstd at a level.</summary>
internal sealed class ZstdFp16Candidate(int level) : ICodecCandidate
{
    public string Name => $"zstd{level}-fp16";

    public string Family => "zstd-fp16";

    public CandidateResult Run(KvCache exact, int tokens)
    {
        int perSection = tokens * exact.KvDim;
        var watch = Stopwatch.StartNew();
        var halves = new Half[2 * exact.Layers * perSection];
        for (int layer = 0; layer < exact.Layers; layer++)
        {
            ToHalf(exact.Keys(layer)[..perSection], halves.AsSpan(2 * layer * perSection, perSection));
            ToHalf(exact.Values(layer)[..perSection], halves.AsSpan((2 * layer + 1) * perSection, perSection));
        }

        using var compressor = new Compressor(level);
        byte[] compressed = compressor.Wrap(MemoryMarshal.AsBytes(halves.AsSpan())).ToArray();
        double encode = watch.Elapsed.TotalSeconds;

        watch.Restart();
        using var decompressor = new Decompressor();
        Half[] restored = MemoryMarshal.Cast<byte, Half>(decompressor.Unwrap(compressed)).ToArray();
        var decoded = new KvCache(exact.Layers, exact.KvDim, exact.Capacity);
        for (int layer = 0; layer < exact.Layers; layer++)
        {
            ToSingle(restored.AsSpan(2 * layer * perSection, perSection), decoded.WritableKeys(layer));
            ToSingle(restored.AsSpan((2 * layer + 1) * perSection, perSection), decoded.WritableValues(layer));
        }

        decoded.SetLength(tokens);
        double decode = watch.Elapsed.TotalSeconds;
        return new CandidateResult(compressed.Length, decoded, encode, decode);
    }

    private static void ToHalf(ReadOnlySpan<float> source, Span<Half> destination)
    {
        for (int i = 0; i < source.Length; i++)
            destination[i] = (Half)source[i];
    }

    private static void ToSingle(ReadOnlySpan<Half> source, Span<float> destination)
    {
        for (int i = 0; i < source.Length; i++)
            destination[i] = (float)source[i];
    }
}
