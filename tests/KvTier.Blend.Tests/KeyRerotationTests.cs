using KvTier.Layout;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// A stored segment placed at other positions than it was computed at arrives with V copied bit for bit and K rotated
/// by Δ = target − first position (channels past the rotary dimensions untouched); K stays as stored when it did not
/// move, when the layout keeps keys before RoPE or has none, or when re-rotation is turned off.
/// </summary>
public sealed class KeyRerotationTests
{
    // Three stored segments placed around computed positions: one moved back (Δ = −8), one moved on (Δ = +6), one in place.
    private static readonly (int Tokens, int Seed, int StoredAt, int Target)[] Segments = [(4, 11, 10, 2), (3, 12, 0, 6), (4, 13, 9, 9)];
    private const int TokenCount = 14;

    public static TheoryData<RopePairing, int> RopeLayouts => new()
    {
        { RopePairing.AdjacentPairs, 8 },
        { RopePairing.SplitHalves, 8 },
        { RopePairing.AdjacentPairs, 4 }, // partial rotary: channels 4..7 of each head carry no position
        { RopePairing.SplitHalves, 2 },
    };

    [Theory]
    [MemberData(nameof(RopeLayouts))]
    public async Task Moved_keys_are_rerotated_by_the_position_delta_and_values_are_copied(RopePairing pairing, int rotary)
    {
        KvLayout layout = BlendStore.Layout3(pairing, rotary);
        await using var store = new BlendStore(layout);
        BlendedKv kv = await BlendAsync(store);
        AssertBlended(kv, layout, rerotated: true);
        store.AssertReleased();
    }

    [Fact]
    public async Task Keys_stored_before_rope_are_copied_as_they_are()
    {
        KvLayout layout = BlendStore.Layout3(keysAfterRope: false);
        await using var store = new BlendStore(layout);
        AssertBlended(await BlendAsync(store), layout, rerotated: false);
    }

    [Fact]
    public async Task A_layout_without_rope_copies_keys_as_they_are()
    {
        var layout = new KvLayout(3, 2, 8, KvElementType.Float32, RopeParameters.None, keysStoredAfterRope: false);
        await using var store = new BlendStore(layout);
        AssertBlended(await BlendAsync(store), layout, rerotated: false);
    }

    [Fact]
    public async Task With_rerotation_turned_off_moved_keys_keep_their_old_rotation()
    {
        KvLayout layout = BlendStore.Layout3();
        await using var store = new BlendStore(layout, new BlendOptions { RerotateKeys = false });
        AssertBlended(await BlendAsync(store), layout, rerotated: false);
    }

    [Fact]
    public async Task The_rotation_is_the_scalar_pair_rotation_of_the_delta_table()
    {
        // An independent scalar statement of the rotation: for each pair (a, b) of a head, a' = a·c − b·s, b' = a·s + b·c in
        // binary32, with c and s from the Δ table; adjacent pairs are (2k, 2k + 1), split halves (k, k + rotary/2).
        foreach (RopePairing pairing in new[] { RopePairing.AdjacentPairs, RopePairing.SplitHalves })
        {
            KvLayout layout = BlendStore.Layout3(pairing, rotary: 6);
            await using var store = new BlendStore(layout);
            BlendedKv kv = await BlendAsync(store);
            for (int s = 0; s < Segments.Length; s++)
            {
                (int tokens, int seed, int storedAt, int target) = Segments[s];
                StoredChunk chunk = BlendStore.RandomChunk(layout, tokens, seed, storedAt);
                for (int layer = 0; layer < layout.Layers; layer++)
                {
                    float[] expected = ScalarRotate(chunk.Keys[layer], layout, target - storedAt);
                    Bits.Equal(expected, kv.Keys(layer).Slice(target * layout.KvDim, expected.Length), $"{pairing} segment {s} layer {layer} K");
                }
            }
        }
    }

    private static async Task<BlendedKv> BlendAsync(BlendStore store)
    {
        var entries = new List<BlendEntry> { BlendEntry.Compute(2, 0), BlendEntry.Compute(1, TokenCount - 1) };
        foreach ((int tokens, int seed, int storedAt, int target) in Segments)
        {
            int[] ids = BlendStore.Tokens(tokens, seed);
            store.PutSegment(ids, storedAt, seed);
            entries.Add(BlendEntry.Segment(store.Keys.SegmentKey(ids), tokens, target));
        }

        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan(entries));
        Assert.Equal(TokenCount, kv.TokenCount);
        Assert.Empty(kv.MissingEntries);
        return kv;
    }

    private static void AssertBlended(BlendedKv kv, KvLayout layout, bool rerotated)
    {
        int kvDim = layout.KvDim;
        for (int s = 0; s < Segments.Length; s++)
        {
            (int tokens, int seed, int storedAt, int target) = Segments[s];
            StoredChunk chunk = BlendStore.RandomChunk(layout, tokens, seed, storedAt);
            int delta = target - storedAt;
            for (int layer = 0; layer < layout.Layers; layer++)
            {
                ReadOnlySpan<float> keys = kv.Keys(layer).Slice(target * kvDim, tokens * kvDim);
                Bits.Equal(chunk.Values[layer], kv.Values(layer).Slice(target * kvDim, tokens * kvDim), $"segment {s} layer {layer} V");

                float[] expected = (float[])chunk.Keys[layer].Clone();
                if (rerotated && delta != 0)
                {
                    var cos = new float[layout.Rope.RotaryDims / 2];
                    var sin = new float[cos.Length];
                    RopeRotation.BuildAngles(layout.Rope, delta, cos, sin);
                    RopeRotation.Rerotate(expected, layout, cos, sin);
                    Assert.False(keys.SequenceEqual(chunk.Keys[layer]), $"segment {s} moved by {delta} but its keys were copied as stored");
                }

                Bits.Equal(expected, keys, $"segment {s} (Δ {delta}) layer {layer} K");

                // Channels past the rotary dimensions carry no position: copied bit for bit whatever Δ.
                int rotary = layout.Rope.Pairing == RopePairing.None ? 0 : layout.Rope.RotaryDims;
                for (int head = 0; head < tokens * layout.KvHeads; head++)
                {
                    int from = head * layout.HeadDim + rotary, count = layout.HeadDim - rotary;
                    Bits.Equal(chunk.Keys[layer].AsSpan(from, count), keys.Slice(from, count), $"segment {s} layer {layer} unrotated channels");
                }
            }
        }

        // Computed positions are left for the engine: zero rows.
        foreach (int position in new[] { 0, 1, TokenCount - 1 })
        {
            for (int layer = 0; layer < layout.Layers; layer++)
            {
                Assert.True(kv.Keys(layer).Slice(position * kvDim, kvDim).IndexOfAnyExcept(0f) < 0);
                Assert.True(kv.Values(layer).Slice(position * kvDim, kvDim).IndexOfAnyExcept(0f) < 0);
            }
        }
    }

    private static float[] ScalarRotate(float[] keys, KvLayout layout, int delta)
    {
        int pairs = layout.Rope.RotaryDims / 2;
        var cos = new float[pairs];
        var sin = new float[pairs];
        RopeRotation.BuildAngles(layout.Rope, delta, cos, sin);
        float[] result = (float[])keys.Clone();
        bool split = layout.Rope.Pairing == RopePairing.SplitHalves;
        for (int head = 0; head < keys.Length / layout.HeadDim; head++)
        {
            for (int k = 0; k < pairs; k++)
            {
                int a = head * layout.HeadDim + (split ? k : 2 * k);
                int b = a + (split ? pairs : 1);
                float xa = keys[a], xb = keys[b];
                result[a] = xa * cos[k] - xb * sin[k];
                result[b] = xa * sin[k] + xb * cos[k];
            }
        }

        return result;
    }
}
