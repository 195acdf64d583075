using KvTier.Format;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Format.Tests.Records;

/// <summary>Small chunks with KV-like content (smooth per-channel signals, a few outlier channels) for format tests.</summary>
internal static class TestChunks
{
    public static KvLayout Layout(KvElementType type = KvElementType.Float32, int layers = 2, int kvHeads = 2, int headDim = 8) =>
        new(layers, kvHeads, headDim, type, new RopeParameters(10000, headDim, RopePairing.AdjacentPairs), keysStoredAfterRope: true);

    public static KvChunk Chunk(KvLayout layout, int tokens, int seed = 1)
    {
        var chunk = new KvChunk(layout, tokens);
        var random = new Random(seed);
        var values = new float[tokens * layout.KvDim];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
            {
                for (int t = 0; t < tokens; t++)
                {
                    for (int c = 0; c < layout.KvDim; c++)
                    {
                        float channelScale = c % 7 == 3 ? 8f : 1f; // outlier channels, as real keys have
                        values[t * layout.KvDim + c] = channelScale * (MathF.Sin(0.3f * t + c) + 0.25f * (random.NextSingle() - 0.5f));
                    }
                }

                chunk.SetSingle(layer, kind, values);
            }
        }

        return chunk;
    }

    public static ChunkRecordMetadata Metadata(KvLayout layout, string modelId = "test-model", ChunkKeyKind kind = ChunkKeyKind.Prefix, int firstPosition = 0)
    {
        var keys = new ChunkKeys(modelId, layout, chunkTokens: 1 << 20);
        return new ChunkRecordMetadata(keys.Fingerprint, keys.PrefixKeys([1, 2, 3])[0], kind, firstPosition);
    }
}
