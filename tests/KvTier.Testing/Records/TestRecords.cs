using System.Security.Cryptography;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Testing.Records;

/// <summary>Valid chunk records with chosen keys and sizes, for storage tests and benchmarks.</summary>
public static class TestRecords
{
    /// <summary>A small fp16 layout: 2 layers × 2 KV heads × 8 → 128 bytes of keys and values per token, raw.</summary>
    public static KvLayout SmallLayout { get; } =
        new(2, 2, 8, KvElementType.Float16, new RopeParameters(10000, 8, RopePairing.AdjacentPairs), keysStoredAfterRope: true);

    /// <summary>The fingerprint every test record carries.</summary>
    public static ModelFingerprint Fingerprint { get; } = ModelFingerprint.Compute("kvtier-test", SmallLayout);

    /// <summary>A key derived from an integer id (distinct ids give distinct keys).</summary>
    public static ChunkKey Key(long id)
    {
        Span<byte> seed = stackalloc byte[8];
        BitConverter.TryWriteBytes(seed, id);
        return ChunkKey.FromBytes(SHA256.HashData(seed));
    }

    /// <summary>
    /// A raw-codec record under <paramref name="key"/> with <paramref name="tokens"/> tokens of content derived from
    /// <paramref name="contentSeed"/> (two records with the same arguments are byte-identical).
    /// </summary>
    public static byte[] Create(ChunkKey key, int tokens = 4, int contentSeed = 0, KvLayout? layout = null, ChunkKeyKind kind = ChunkKeyKind.Prefix)
    {
        KvLayout l = layout ?? SmallLayout;
        var chunk = new KvChunk(l, tokens);
        var random = new Random(contentSeed);
        var values = new float[tokens * l.KvDim];
        for (int layer = 0; layer < l.Layers; layer++)
        {
            foreach (SectionKind section in new[] { SectionKind.Keys, SectionKind.Values })
            {
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)(random.NextDouble() * 2 - 1);
                chunk.SetSingle(layer, section, values);
            }
        }
        ModelFingerprint fingerprint = layout is null ? Fingerprint : ModelFingerprint.Compute("kvtier-test", l);
        return ChunkRecordWriter.Encode(chunk, new ChunkRecordMetadata(fingerprint, key, kind), CodecId.Raw, 0);
    }

    /// <summary>A record for key id <paramref name="id"/>.</summary>
    public static byte[] Create(long id, int tokens = 4, int contentSeed = 0) => Create(Key(id), tokens, contentSeed);
}
