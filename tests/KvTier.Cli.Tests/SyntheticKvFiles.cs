using KvTier.Keys;
using KvTier.Layout;
using KvTier.Reference;

namespace KvTier.Cli.Tests;

/// <summary>KV-cache safetensors files with synthetic, KV-like content: encode and decode tests need no model.</summary>
internal static class SyntheticKvFiles
{
    public const string ModelId = "synthetic-model";

    public static KvLayout Layout(KvElementType type = KvElementType.Float32, int layers = 3, int kvHeads = 2, int headDim = 8) =>
        new(layers, kvHeads, headDim, type, new RopeParameters(10000, headDim, RopePairing.AdjacentPairs), keysStoredAfterRope: true);

    /// <summary>Writes a file of <paramref name="tokens"/> positions; values are representable in the layout's element type.</summary>
    public static KvCacheFileContents Write(string path, KvLayout layout, int tokens, int seed = 1)
    {
        var fingerprint = ModelFingerprint.Compute(ModelId, layout);
        var cache = new KvCache(layout.Layers, layout.KvDim, tokens);
        var random = new Random(seed);
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            Fill(cache.WritableKeys(layer), layout, tokens, random, outliers: true);
            Fill(cache.WritableValues(layer), layout, tokens, random, outliers: false);
        }

        cache.SetLength(tokens);
        int[] ids = Enumerable.Range(0, tokens).Select(t => (t * 31 + seed) % 500 + 1).ToArray();
        KvCacheFile.Write(path, fingerprint, ids, cache, "a synthetic prompt");
        return KvCacheFile.Read(path);
    }

    private static void Fill(Span<float> values, KvLayout layout, int tokens, Random random, bool outliers)
    {
        for (int t = 0; t < tokens; t++)
        {
            for (int c = 0; c < layout.KvDim; c++)
            {
                float scale = outliers && c % 5 == 2 ? 9f : 1f;
                float v = scale * (MathF.Sin(0.2f * t + 0.7f * c) + 0.2f * (random.NextSingle() - 0.5f));
                values[t * layout.KvDim + c] = layout.ElementType switch
                {
                    KvElementType.Float16 => (float)(Half)v,
                    KvElementType.BFloat16 => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) & unchecked((int)0xFFFF0000)),
                    _ => v,
                };
            }
        }
    }
}
