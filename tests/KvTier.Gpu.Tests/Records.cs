using System.Security.Cryptography;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Gpu.Tests;

/// <summary>Records of chosen codec, level, element type and size, with KV that is either noise or smooth along tokens.</summary>
internal static class Records
{
    /// <summary>A narrow layout (1 layer, 2 heads × 4 channels) so that 8197 tokens stay quick on the CPU accelerator.</summary>
    public static KvLayout Layout(KvElementType type, RopePairing pairing = RopePairing.AdjacentPairs, int kvHeads = 2, int headDim = 4, int rotaryDims = 4) =>
        new(1, kvHeads, headDim, type, pairing == RopePairing.None ? RopeParameters.None : new RopeParameters(10000, rotaryDims, pairing), keysStoredAfterRope: pairing != RopePairing.None);

    /// <summary>
    /// A record of <paramref name="tokens"/> tokens. Smooth content (a slow sine per channel plus a little noise) makes
    /// the ans encoder pick previous-token prediction; noise keeps prediction 0.
    /// </summary>
    public static ChunkRecord Create(KvLayout layout, int tokens, CodecId codec, int level, bool smooth, int seed = 1)
    {
        var chunk = new KvChunk(layout, tokens);
        var random = new Random(seed + tokens);
        var values = new float[tokens * layout.KvDim];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
            {
                for (int t = 0; t < tokens; t++)
                {
                    for (int c = 0; c < layout.KvDim; c++)
                    {
                        double noise = random.NextDouble() * 2 - 1;
                        values[t * layout.KvDim + c] = (float)(smooth ? (1 + c) * Math.Sin(t * 0.002 + c) + 0.001 * noise : noise * (1 + c % 3) * (kind == SectionKind.Keys ? 4 : 1));
                    }
                }

                chunk.SetSingle(layer, kind, values);
            }
        }

        var key = ChunkKey.FromBytes(SHA256.HashData(BitConverter.GetBytes(seed)));
        byte[] bytes = ChunkRecordWriter.Encode(chunk, new ChunkRecordMetadata(ModelFingerprint.Compute("kvtier-gpu-test", layout), key, FirstPosition: 3), codec, level);
        return ChunkRecord.Parse(bytes, $"{codec}-{level}-{layout.ElementType}-{tokens}");
    }

    /// <summary>Every (codec, level) of format v1.</summary>
    public static IEnumerable<(CodecId Codec, int Level)> CodecLevels()
    {
        yield return (CodecId.Raw, 0);
        yield return (CodecId.Q8, 0);
        for (int level = 1; level <= 4; level++)
            yield return (CodecId.Ans, level);
    }
}
