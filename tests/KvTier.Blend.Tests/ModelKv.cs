using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Reference;
using KvTier.Storage;

namespace KvTier.Blend.Tests;

/// <summary>Stores a real model's KV the way an engine would after a prefill, and compares sessions' caches.</summary>
internal static class ModelKv
{
    /// <summary>
    /// Stores positions <c>[start, start + tokens.Length)</c> of <paramref name="cache"/> under the segment keys of
    /// <paramref name="tokens"/>' chunks, each with the position its first token was computed at.
    /// </summary>
    public static void StoreSegments(KvStore store, ChunkKeys keys, KvCache cache, ReadOnlySpan<int> tokens, int start)
    {
        var records = new List<ReadOnlyMemory<byte>>();
        foreach (TokenChunk chunk in keys.Split(tokens.Length))
        {
            int first = start + chunk.Start;
            KvChunk kv = KvCacheChunks.ToChunk(cache, first, chunk.Count, keys.Fingerprint.Layout);
            ChunkKey key = keys.SegmentKey(tokens.Slice(chunk.Start, chunk.Count));
            records.Add(ChunkRecordWriter.Encode(kv, new ChunkRecordMetadata(keys.Fingerprint, key, ChunkKeyKind.Segment, first), CodecId.Raw, null));
        }

        store.PutBatch(records);
    }

    /// <summary>Stores positions <c>[0, prefix.Length)</c> of <paramref name="cache"/> under the prefix key of <paramref name="prefix"/> (one chunk).</summary>
    public static ChunkKey StorePrefix(KvStore store, ChunkKeys keys, KvCache cache, ReadOnlySpan<int> prefix)
    {
        ChunkKey key = keys.PrefixKeys(prefix)[0];
        KvChunk kv = KvCacheChunks.ToChunk(cache, 0, prefix.Length, keys.Fingerprint.Layout);
        store.Put(ChunkRecordWriter.Encode(kv, new ChunkRecordMetadata(keys.Fingerprint, key, ChunkKeyKind.Prefix, 0), CodecId.Raw, null));
        return key;
    }

    /// <summary>Asserts that two caches hold the same K and V, bit for bit, at every layer for positions <c>[0, length)</c>.</summary>
    public static void AssertSameCache(KvCache expected, KvCache actual, int length, string what)
    {
        for (int layer = 0; layer < expected.Layers; layer++)
        {
            Bits.Equal(expected.Keys(layer)[..(length * expected.KvDim)], actual.Keys(layer)[..(length * actual.KvDim)], $"{what}: layer {layer} K");
            Bits.Equal(expected.Values(layer)[..(length * expected.KvDim)], actual.Values(layer)[..(length * actual.KvDim)], $"{what}: layer {layer} V");
        }
    }
}
