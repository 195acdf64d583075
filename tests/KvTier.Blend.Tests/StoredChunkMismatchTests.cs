using KvTier.Format;
using KvTier.Keys;
using KvTier.Layout;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// A stored chunk that cannot stand for its plan entry — computed for another KV layout, holding another number of
/// tokens, or a prefix chunk placed elsewhere than it was computed — fails the blend with a typed error, and nothing
/// stays leased.
/// </summary>
public sealed class StoredChunkMismatchTests
{
    public static TheoryData<string, KvLayout> OtherLayouts => new()
    {
        { "other RoPE pairing", BlendStore.Layout3(RopePairing.SplitHalves) },
        { "other rotary dims", BlendStore.Layout3(rotary: 4) },
        { "keys before RoPE", BlendStore.Layout3(keysAfterRope: false) },
        { "binary16", BlendStore.Layout3(type: KvElementType.Float16) },
        { "other RoPE base", new KvLayout(3, 2, 8, KvElementType.Float32, new RopeParameters(500000, 8, RopePairing.AdjacentPairs), true) },
        { "other layer count", BlendStore.Layout3(layers: 2) },
        { "other KV heads", BlendStore.Layout3(heads: 1) },
        { "other head width", BlendStore.Layout3(heads: 1, headDim: 16) }, // same KV width, other heads
    };

    [Theory]
    [MemberData(nameof(OtherLayouts))]
    public async Task A_chunk_computed_for_another_layout_is_a_layout_mismatch(string what, KvLayout stored)
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        Assert.NotEqual(store.Layout, stored);
        int[] tokens = BlendStore.Tokens(4, seed: 1);
        ChunkKey key = store.Keys.SegmentKey(tokens);
        store.Store.Put(store.Encode(key, BlendStore.RandomChunk(stored, 4, seed: 2, firstPosition: 9)));

        var plan = new BlendPlan([BlendEntry.Compute(1, 0), BlendEntry.Segment(key, 4, 1)]);
        BlendException e = await Assert.ThrowsAsync<BlendException>(() => store.Blender.BlendAsync(plan));
        Assert.True(e.Kind == BlendErrorKind.LayoutMismatch, $"{what}: {e.Kind}: {e.Message}");
        store.AssertReleased();
    }

    [Theory]
    [InlineData(3, 4, 4)]  // fewer tokens than the entry
    [InlineData(4, 3, 3)]  // more tokens than the entry, more than any entry of the plan
    [InlineData(6, 4, 8)]  // more tokens than the entry, but it would fit the plan's largest entry
    public async Task A_chunk_of_another_token_count_is_a_token_count_mismatch(int storedTokens, int entryTokens, int otherEntryTokens)
    {
        await using var store = new BlendStore(BlendStore.Layout3(), chunkTokens: 8);
        ChunkKey key = store.Keys.SegmentKey(BlendStore.Tokens(entryTokens, seed: 1));
        store.Put(key, BlendStore.RandomChunk(store.Layout, storedTokens, seed: 2, firstPosition: 5), ChunkKeyKind.Segment);
        int[] other = BlendStore.Tokens(otherEntryTokens, seed: 3);
        store.PutSegment(other, firstPosition: 0, seed: 4);

        var plan = new BlendPlan([BlendEntry.Segment(key, entryTokens, 0), BlendEntry.SegmentTokens(other, entryTokens)]);
        BlendException e = await Assert.ThrowsAsync<BlendException>(() => store.Blender.BlendAsync(plan));
        Assert.Equal(BlendErrorKind.TokenCountMismatch, e.Kind);
        store.AssertReleased();
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(5, 0)]
    [InlineData(5, 3)]
    public async Task A_prefix_chunk_placed_elsewhere_than_it_was_computed_is_refused(int storedAt, int target)
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        int[] tokens = BlendStore.Tokens(4, seed: 1);
        ChunkKey key = store.Keys.PrefixKeys(tokens)[0];
        store.Put(key, BlendStore.RandomChunk(store.Layout, 4, seed: 2, firstPosition: storedAt), ChunkKeyKind.Prefix);

        var entries = new List<BlendEntry> { BlendEntry.Prefix(key, 4, target) };
        if (target > 0)
            entries.Add(BlendEntry.Compute(target, 0));
        BlendException e = await Assert.ThrowsAsync<BlendException>(() => store.Blender.BlendAsync(new BlendPlan(entries)));
        Assert.Equal(BlendErrorKind.PrefixMoved, e.Kind);
        store.AssertReleased();
    }

    [Fact]
    public async Task A_prefix_chunk_at_its_own_position_is_exact()
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        int[] tokens = BlendStore.Tokens(4, seed: 1);
        ChunkKey key = store.Keys.PrefixKeys(tokens)[0];
        StoredChunk stored = BlendStore.RandomChunk(store.Layout, 4, seed: 2, firstPosition: 3);
        store.Put(key, stored, ChunkKeyKind.Prefix);

        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Compute(3, 0), BlendEntry.Prefix(key, 4, 3)]));
        Assert.Equal(4, kv.ExactTokenCount);
        Assert.Equal(TokenOrigin.Exact, kv.GetOrigin(3));
        for (int layer = 0; layer < store.Layout.Layers; layer++)
            Bits.Equal(stored.Keys[layer], kv.Keys(layer).Slice(3 * store.Layout.KvDim), $"layer {layer} K");
    }
}
