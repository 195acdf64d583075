using KvTier.Format;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Storage;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// Every position of a blend says where its KV came from: exact prefix reuse, a reused (moved) segment, or computation
/// — a compute entry, or a segment the store lacks or holds corrupt. Token spans are looked up chunk by chunk.
/// </summary>
public sealed class TokenOriginTests
{
    [Fact]
    public async Task Origins_follow_the_plan_and_what_the_store_holds_chunk_by_chunk()
    {
        KvLayout layout = BlendStore.Layout3();
        await using var store = new BlendStore(layout);
        Assert.Equal(4, store.Keys.ChunkTokens);

        // An exact prefix of 3 tokens, stored at position 0 under its prefix key.
        int[] prefix = BlendStore.Tokens(3, seed: 1);
        ChunkKey prefixKey = store.Keys.PrefixKeys(prefix)[0];
        StoredChunk prefixKv = BlendStore.RandomChunk(layout, 3, seed: 2, firstPosition: 0);
        store.Put(prefixKey, prefixKv, ChunkKeyKind.Prefix);

        // A 10-token document: chunks [0, 4), [4, 8), [8, 10); the store has the first and the last, computed at 20 and 28.
        int[] document = BlendStore.Tokens(10, seed: 3);
        StoredChunk first = store.PutSegment(document.AsSpan(0, 4), firstPosition: 20, seed: 4);
        StoredChunk last = store.PutSegment(document.AsSpan(8, 2), firstPosition: 28, seed: 5);
        ChunkKey middleKey = store.Keys.SegmentKey(document.AsSpan(4, 4));

        // A segment the store never had, computed positions, and a second document it has whole.
        ChunkKey absentKey = store.Keys.SegmentKey(BlendStore.Tokens(4, seed: 6));
        int[] tail = BlendStore.Tokens(4, seed: 7);
        StoredChunk tailKv = store.PutSegment(tail, firstPosition: 19, seed: 8);

        var plan = new BlendPlan(
        [
            BlendEntry.Prefix(prefixKey, 3, 0),
            BlendEntry.SegmentTokens(document, 3),
            BlendEntry.Segment(absentKey, 4, 13),
            BlendEntry.Compute(2, 17),
            BlendEntry.SegmentTokens(tail, 19),
        ]);
        BlendedKv kv = await store.Blender.BlendAsync(plan);

        Assert.Same(plan, kv.Plan);
        Assert.Equal(23, kv.TokenCount);
        var expected = new TokenOrigin[23];
        Fill(expected, 0, 3, TokenOrigin.Exact);
        Fill(expected, 3, 4, TokenOrigin.Reused);
        Fill(expected, 7, 4, TokenOrigin.Computed);   // the document's missing middle chunk
        Fill(expected, 11, 2, TokenOrigin.Reused);
        Fill(expected, 13, 4, TokenOrigin.Computed);  // the absent segment
        Fill(expected, 17, 2, TokenOrigin.Computed);  // the compute entry
        Fill(expected, 19, 4, TokenOrigin.Reused);
        for (int position = 0; position < expected.Length; position++)
            Assert.True(expected[position] == kv.GetOrigin(position), $"position {position}: {kv.GetOrigin(position)}, expected {expected[position]}");

        Assert.Equal([7, 8, 9, 10, 13, 14, 15, 16, 17, 18], kv.ComputeTokens);
        Assert.Equal([3, 4, 5, 6, 11, 12, 19, 20, 21, 22], kv.ReusedTokens);
        Assert.Equal(3, kv.ExactTokenCount);

        // The document span became one segment entry per chunk; the missing entries are its middle chunk and the absent segment.
        Assert.Equal(7, kv.ResolvedEntries.Count);
        Assert.Equal(
            [(BlendEntryKind.Segment, store.Keys.SegmentKey(document.AsSpan(0, 4)), 3, 4), (BlendEntryKind.Segment, middleKey, 7, 4), (BlendEntryKind.Segment, store.Keys.SegmentKey(document.AsSpan(8, 2)), 11, 2)],
            kv.ResolvedEntries.Where(e => e.TargetStart is >= 3 and < 13).Select(e => (e.Kind, e.Key!.Value, e.TargetStart, e.TokenCount)));
        Assert.Equal(
            [(middleKey, 7, 4), (absentKey, 13, 4)],
            kv.MissingEntries.Select(e => (e.Key!.Value, e.TargetStart, e.TokenCount)));

        // The found rows are the stored ones: the prefix exactly, the moved chunks' V exactly (K rotation: KeyRerotationTests).
        int kvDim = layout.KvDim;
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            Bits.Equal(prefixKv.Keys[layer], kv.Keys(layer)[..(3 * kvDim)], $"prefix K layer {layer}");
            Bits.Equal(prefixKv.Values[layer], kv.Values(layer)[..(3 * kvDim)], $"prefix V layer {layer}");
            Bits.Equal(first.Values[layer], kv.Values(layer).Slice(3 * kvDim, 4 * kvDim), $"first chunk V layer {layer}");
            Bits.Equal(last.Values[layer], kv.Values(layer).Slice(11 * kvDim, 2 * kvDim), $"last chunk V layer {layer}");
            Bits.Equal(tailKv.Values[layer], kv.Values(layer).Slice(19 * kvDim, 4 * kvDim), $"tail V layer {layer}");
            Assert.True(kv.Values(layer).Slice(7 * kvDim, 4 * kvDim).IndexOfAnyExcept(0f) < 0, "a missing chunk's rows are not zero");
        }

        store.AssertReleased();
    }

    [Fact]
    public async Task A_prefix_chunk_the_store_lacks_is_computed()
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        ChunkKey prefixKey = store.Keys.PrefixKeys(BlendStore.Tokens(4, seed: 1))[0];
        int[] document = BlendStore.Tokens(4, seed: 2);
        store.PutSegment(document, firstPosition: 4, seed: 3);
        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Prefix(prefixKey, 4, 0), BlendEntry.SegmentTokens(document, 4)]));
        Assert.Equal([0, 1, 2, 3], kv.ComputeTokens);
        Assert.Equal([4, 5, 6, 7], kv.ReusedTokens);
        Assert.Equal(0, kv.ExactTokenCount);
        Assert.Equal([prefixKey], kv.MissingEntries.Select(e => e.Key!.Value));
    }

    [Fact]
    public async Task A_plan_of_compute_entries_only_reads_nothing_and_computes_everything()
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Compute(3, 0), BlendEntry.Compute(2, 3)]));
        Assert.Equal([0, 1, 2, 3, 4], kv.ComputeTokens);
        Assert.Empty(kv.ReusedTokens);
        Assert.Empty(kv.MissingEntries);
        Assert.Equal(0, kv.ExactTokenCount);
        StoreStatistics statistics = store.Store.GetStatistics();
        Assert.Equal(0, statistics.Misses + statistics.DiskHits + statistics.MemoryHits);
    }

    [Fact]
    public async Task A_record_corrupted_on_disk_before_the_blend_is_computed_and_dropped_from_the_store()
    {
        KvLayout layout = BlendStore.Layout3();
        await using var store = new BlendStore(layout);
        int[] good = BlendStore.Tokens(4, seed: 1);
        int[] bad = BlendStore.Tokens(4, seed: 2);
        store.PutSegment(good, firstPosition: 40, seed: 3);
        ChunkKey badKey = store.Keys.SegmentKey(bad);
        byte[] record = store.Put(badKey, BlendStore.RandomChunk(layout, 4, seed: 4, firstPosition: 50), ChunkKeyKind.Segment);
        await store.FlipPayloadByteAsync(record, 0, SectionKind.Keys);

        var plan = new BlendPlan([BlendEntry.SegmentTokens(good, 0), BlendEntry.SegmentTokens(bad, 4), BlendEntry.Compute(1, 8)]);
        BlendedKv kv = await store.Blender.BlendAsync(plan);

        Assert.Equal([0, 1, 2, 3], kv.ReusedTokens);
        Assert.Equal([4, 5, 6, 7, 8], kv.ComputeTokens);
        Assert.Equal([badKey], kv.MissingEntries.Select(e => e.Key!.Value));
        for (int layer = 0; layer < layout.Layers; layer++)
            Assert.True(kv.Keys(layer).Slice(4 * layout.KvDim, 4 * layout.KvDim).IndexOfAnyExcept(0f) < 0, $"layer {layer}: the corrupt chunk's rows were used");
        store.AssertReleased();
        Assert.Equal(1, store.Store.GetStatistics().CorruptionEvents);
        store.Store.Flush(); // The store drops a corrupt record on its writer thread.
        Assert.False(store.Store.Contains(badKey));
    }

    [Fact]
    public async Task A_record_failing_a_later_layer_is_either_computed_or_refused_and_a_second_blend_computes_it()
    {
        // Whether the bad section of the last layer is read before or after layer 0 is handed out depends on how far the
        // prefetcher has read ahead; either way the blend must not hand out a mix, and the store must drop the record.
        KvLayout layout = BlendStore.Layout3(layers: 6);
        await using var store = new BlendStore(layout);
        int[] tokens = BlendStore.Tokens(4, seed: 1);
        ChunkKey key = store.Keys.SegmentKey(tokens);
        byte[] record = store.Put(key, BlendStore.RandomChunk(layout, 4, seed: 2, firstPosition: 7), ChunkKeyKind.Segment);
        await store.FlipPayloadByteAsync(record, 5, SectionKind.Values);
        var plan = new BlendPlan([BlendEntry.Compute(2, 0), BlendEntry.SegmentTokens(tokens, 2)]);

        try
        {
            BlendedKv kv = await store.Blender.BlendAsync(plan);
            Assert.Equal([0, 1, 2, 3, 4, 5], kv.ComputeTokens);
        }
        catch (BlendException e)
        {
            Assert.Equal(BlendErrorKind.SourceCorrupt, e.Kind);
        }

        store.AssertReleased();
        store.Store.Flush();
        Assert.False(store.Store.Contains(key));
        BlendedKv again = await store.Blender.BlendAsync(plan);
        Assert.Equal([0, 1, 2, 3, 4, 5], again.ComputeTokens);
        Assert.Equal([key], again.MissingEntries.Select(e => e.Key!.Value));
    }

    private static void Fill(TokenOrigin[] origins, int start, int count, TokenOrigin origin) => origins.AsSpan(start, count).Fill(origin);
}
