using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// The engine's recomputed rows go into a blend through <see cref="BlendedKv.Merge"/>: each row lands on its position,
/// other rows stay as they were, and rows that name positions out of order or outside the blend, or that are not one
/// KV row per position, are refused with <see cref="BlendErrorKind.InvalidEngineKv"/> and change nothing.
/// </summary>
public sealed class BlendedKvMergeTests
{
    [Fact]
    public async Task Merged_rows_replace_exactly_their_positions()
    {
        (BlendStore store, BlendedKv kv) = await ReusedBlendAsync();
        await using (store)
        {
            int kvDim = kv.Layout.KvDim;
            float[][] keysBefore = [.. Enumerable.Range(0, 3).Select(l => kv.Keys(l).ToArray())];
            float[][] valuesBefore = [.. Enumerable.Range(0, 3).Select(l => kv.Values(l).ToArray())];
            int[] tokens = [0, 3, 7];
            float[] keys = Rows(tokens.Length * kvDim, 100);
            float[] values = Rows(tokens.Length * kvDim, 200);

            kv.Merge(1, tokens, keys, values);

            for (int layer = 0; layer < 3; layer++)
            {
                for (int position = 0; position < kv.TokenCount; position++)
                {
                    int row = layer == 1 ? Array.IndexOf(tokens, position) : -1;
                    ReadOnlySpan<float> expectedK = row >= 0 ? keys.AsSpan(row * kvDim, kvDim) : keysBefore[layer].AsSpan(position * kvDim, kvDim);
                    ReadOnlySpan<float> expectedV = row >= 0 ? values.AsSpan(row * kvDim, kvDim) : valuesBefore[layer].AsSpan(position * kvDim, kvDim);
                    Bits.Equal(expectedK, kv.Keys(layer).Slice(position * kvDim, kvDim), $"layer {layer} position {position} K");
                    Bits.Equal(expectedV, kv.Values(layer).Slice(position * kvDim, kvDim), $"layer {layer} position {position} V");
                }
            }

            kv.Merge(2, [], [], []); // nothing to merge is fine
        }
    }

    public static TheoryData<int[], int, int> BadRows => new()
    {
        { new[] { 3, 1 }, 2, 2 },         // descending
        { new[] { 1, 1 }, 2, 2 },         // repeated
        { new[] { 1, 8 }, 2, 2 },         // past the blend (8 positions)
        { new[] { -1, 2 }, 2, 2 },        // negative
        { new[] { 1, 2 }, 1, 2 },         // one key row short
        { new[] { 1, 2 }, 2, 3 },         // one value row too many
        { new[] { 1, 2 }, 3, 3 },         // both too many
    };

    [Theory]
    [MemberData(nameof(BadRows))]
    public async Task Rows_that_do_not_fit_are_refused_and_change_nothing(int[] tokens, int keyRows, int valueRows)
    {
        (BlendStore store, BlendedKv kv) = await ReusedBlendAsync();
        await using (store)
        {
            int kvDim = kv.Layout.KvDim;
            float[] keysBefore = kv.Keys(1).ToArray();
            float[] valuesBefore = kv.Values(1).ToArray();
            BlendException e = Assert.Throws<BlendException>(() => kv.Merge(1, tokens, Rows(keyRows * kvDim, 1), Rows(valueRows * kvDim, 2)));
            Assert.Equal(BlendErrorKind.InvalidEngineKv, e.Kind);
            Bits.Equal(keysBefore, kv.Keys(1), "K after a refused merge");
            Bits.Equal(valuesBefore, kv.Values(1), "V after a refused merge");
        }
    }

    [Fact]
    public async Task A_layer_or_position_outside_the_blend_is_out_of_range()
    {
        (BlendStore store, BlendedKv kv) = await ReusedBlendAsync();
        await using (store)
        {
            int kvDim = kv.Layout.KvDim;
            Assert.Throws<ArgumentOutOfRangeException>(() => kv.Merge(3, [0], new float[kvDim], new float[kvDim]));
            Assert.Throws<ArgumentOutOfRangeException>(() => kv.Merge(-1, [0], new float[kvDim], new float[kvDim]));
            Assert.Throws<ArgumentOutOfRangeException>(() => kv.Keys(3));
            Assert.Throws<ArgumentOutOfRangeException>(() => kv.Values(-1));
            Assert.Throws<ArgumentOutOfRangeException>(() => kv.GetOrigin(kv.TokenCount));
            Assert.Throws<ArgumentOutOfRangeException>(() => kv.GetOrigin(-1));
        }
    }

    /// <summary>8 positions: 0..1 computed, 2..7 reused from two stored chunks.</summary>
    private static async Task<(BlendStore, BlendedKv)> ReusedBlendAsync()
    {
        var store = new BlendStore(BlendStore.Layout3());
        int[] tokens = BlendStore.Tokens(6, seed: 1);
        store.PutSegment(tokens.AsSpan(0, 4), firstPosition: 9, seed: 2);
        store.PutSegment(tokens.AsSpan(4, 2), firstPosition: 13, seed: 3);
        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Compute(2, 0), BlendEntry.SegmentTokens(tokens, 2)]));
        Assert.Equal(8, kv.TokenCount);
        return (store, kv);
    }

    private static float[] Rows(int count, int seed)
    {
        var random = new Random(seed);
        var rows = new float[count];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = (float)(random.NextDouble() * 2 - 1);
        return rows;
    }
}
