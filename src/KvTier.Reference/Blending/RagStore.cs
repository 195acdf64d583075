using KvTier.Blend;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Storage;

namespace KvTier.Reference;

/// <summary>
/// Puts a <see cref="RagCorpus"/> into a store the way an engine would after computing each document once: the system
/// prompt's KV under its prefix key, each document's KV — computed right after the system prompt — under the segment key
/// of each of its chunks, with the positions it was computed at. Then builds blend plans over any document order.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
public static class RagStore
{
    /// <summary>Computes and stores the prefix and every document (records the store already holds are not written again); returns the model work spent.</summary>
    /// <param name="model">The model.</param>
    /// <param name="store">The store.</param>
    /// <param name="keys">The model's key space (its chunk size splits the documents).</param>
    /// <param name="corpus">The corpus.</param>
    /// <param name="codec">The codec of the records. Default: raw, so that blend quality is measured apart from codec loss.</param>
    /// <param name="level">The codec level; null for the codec's default.</param>
    /// <returns>Attention and MLP work of the prefills, in multiply-accumulates (<see cref="LlamaSession.Work"/>).</returns>
    /// <exception cref="ArgumentException">The system prompt does not fit one chunk of <paramref name="keys"/>.</exception>
    public static long StoreCorpus(LlamaModel model, KvStore store, ChunkKeys keys, RagCorpus corpus, CodecId codec = CodecId.Raw, int? level = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(corpus);
        CheckPrefixFits(keys, corpus);
        LlamaSession session = model.CreateSession();
        int[] prefix = [.. corpus.Prefix];
        var records = new List<ReadOnlyMemory<byte>>();
        for (int d = 0; d < corpus.Documents.Count; d++)
        {
            int[] document = corpus.Documents[d];
            session.Prefill([.. prefix, .. document]);
            if (d == 0 && !store.Contains(keys.PrefixKeys(prefix)[0]))
                records.Add(PrefixRecord(session.Cache, keys, prefix, codec, level));
            foreach (TokenChunk chunk in keys.Split(document.Length))
            {
                int first = prefix.Length + chunk.Start;
                ChunkKey key = keys.SegmentKey(document.AsSpan(chunk.Start, chunk.Count));
                if (store.Contains(key))
                    continue;
                KvChunk kv = KvCacheChunks.ToChunk(session.Cache, first, chunk.Count, keys.Fingerprint.Layout);
                records.Add(ChunkRecordWriter.Encode(kv, new ChunkRecordMetadata(keys.Fingerprint, key, ChunkKeyKind.Segment, first), codec, level));
            }
        }

        if (records.Count > 0)
            store.PutBatch(records);
        return session.Work;
    }

    /// <summary>
    /// The plan of <paramref name="corpus"/>'s prompt for <paramref name="order"/>: the system prompt as an exact prefix
    /// entry, each document as a token span at its new position (looked up by segment keys), the question computed.
    /// </summary>
    /// <exception cref="ArgumentException">The system prompt does not fit one chunk of <paramref name="keys"/>.</exception>
    public static BlendPlan Plan(ChunkKeys keys, RagCorpus corpus, IReadOnlyList<int> order)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(order);
        CheckPrefixFits(keys, corpus);
        int[] prefix = [.. corpus.Prefix];
        var entries = new List<BlendEntry> { BlendEntry.Prefix(keys.PrefixKeys(prefix)[0], prefix.Length, 0) };
        int position = prefix.Length;
        foreach (int d in order)
        {
            int[] document = corpus.Documents[d];
            entries.Add(BlendEntry.SegmentTokens(document, position));
            position += document.Length;
        }

        entries.Add(BlendEntry.Compute(corpus.Question.Count, position));
        return new BlendPlan(entries);
    }

    private static void CheckPrefixFits(ChunkKeys keys, RagCorpus corpus)
    {
        if (corpus.Prefix.Count > keys.ChunkTokens)
            throw new ArgumentException($"The system prompt has {corpus.Prefix.Count} tokens; a RAG store keeps it in one chunk, of at most {keys.ChunkTokens} here.", nameof(keys));
    }

    private static byte[] PrefixRecord(KvCache cache, ChunkKeys keys, int[] prefix, CodecId codec, int? level)
    {
        KvChunk kv = KvCacheChunks.ToChunk(cache, 0, prefix.Length, keys.Fingerprint.Layout);
        return ChunkRecordWriter.Encode(kv, new ChunkRecordMetadata(keys.Fingerprint, keys.PrefixKeys(prefix)[0], ChunkKeyKind.Prefix, 0), codec, level);
    }
}
