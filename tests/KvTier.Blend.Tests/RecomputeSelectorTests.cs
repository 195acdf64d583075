using KvTier.Format;
using KvTier.Keys;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// Selective recomputation's choice of tokens: the engine starts with every reused and computed position; at each check
/// layer the positions that must be computed stay, and of the reused ones exactly <see cref="RecomputeSelector.KeptAfterCheck"/>
/// stay — those whose fresh KV deviates most from the blend, ties to the earlier position — narrowing gradually over
/// several checks. Checks must come once each, in order, with one KV row per position.
/// </summary>
public sealed class RecomputeSelectorTests
{
    // The blend: positions 0..2 exact (a stored prefix), 3..14 reused (three stored 4-token chunks), 15..16 computed.
    private const int Reused = 12;
    private static readonly int[] ReusedPositions = [.. Enumerable.Range(3, Reused)];
    private static readonly int[] ComputedPositions = [15, 16];

    [Fact]
    public async Task The_engine_starts_with_every_reused_computed_and_always_computed_position()
    {
        await using Fixture f = await Fixture.CreateAsync();
        var selector = new RecomputeSelector(f.Kv, new RecomputeOptions(), alwaysCompute: [1, 6]);
        Assert.Equal(Reused, f.Kv.ReusedTokens.Count);
        Assert.Equal(ComputedPositions, f.Kv.ComputeTokens);
        Assert.Equal(3, f.Kv.ExactTokenCount);
        Assert.Equal([1, .. ReusedPositions, .. ComputedPositions], selector.InitialTokens);
        Assert.Equal([.. ReusedPositions, .. ComputedPositions], new RecomputeSelector(f.Kv).InitialTokens);
        Assert.True(selector.IsCheckLayer(1));
        Assert.False(selector.IsCheckLayer(0));
        Assert.False(selector.IsCheckLayer(2));
    }

    [Theory]
    [InlineData(DeviationMeasure.KeySquared)]
    [InlineData(DeviationMeasure.ValueSquared)]
    [InlineData(DeviationMeasure.KeyValueSquared)]
    [InlineData(DeviationMeasure.KeyValueRelative)]
    public async Task The_reused_positions_that_deviate_most_are_kept(DeviationMeasure measure)
    {
        await using Fixture f = await Fixture.CreateAsync();
        var selector = new RecomputeSelector(f.Kv, new RecomputeOptions { Share = 0.4, Measure = measure, CheckLayers = [1] }, alwaysCompute: [1, 6]);
        int keep = selector.KeptAfterCheck(0);
        Assert.Equal((int)Math.Round(0.4 * Reused, MidpointRounding.AwayFromZero), keep);

        int[] tokens = [.. selector.InitialTokens];
        (float[] keys, float[] values, Dictionary<int, (double Key, double Value)> deviations) = f.FreshRows(1, tokens, seed: (int)measure + 10);
        int[] kept = selector.Select(1, tokens, keys, values);

        // What the measure says, from its definition: squared L2 distances of K and/or V, or each over the blended row's squared norm.
        double Score(int position)
        {
            (double k, double v) = deviations[position];
            return measure switch
            {
                DeviationMeasure.KeySquared => k,
                DeviationMeasure.ValueSquared => v,
                DeviationMeasure.KeyValueSquared => k + v,
                _ => k / f.SquaredNorm(f.Kv.Keys(1), position) + v / f.SquaredNorm(f.Kv.Values(1), position),
            };
        }

        int[] candidates = [.. ReusedPositions.Where(p => p != 6)];
        int[] expectedReused = [.. candidates.OrderByDescending(Score).ThenBy(p => p).Take(keep)];
        Assert.Equal([.. new[] { 1, 6, 15, 16 }.Concat(expectedReused).Order()], kept);
        Assert.Equal(keep, kept.Intersect(candidates).Count());
    }

    [Fact]
    public async Task The_measures_disagree_on_these_rows_so_each_is_really_used()
    {
        // Guards the test above: if every measure ranked the rows alike, it could not tell one measure from another.
        await using Fixture f = await Fixture.CreateAsync();
        var selections = new HashSet<string>();
        foreach (DeviationMeasure measure in Enum.GetValues<DeviationMeasure>())
        {
            var selector = new RecomputeSelector(f.Kv, new RecomputeOptions { Share = 0.4, Measure = measure, CheckLayers = [1] }, alwaysCompute: [1, 6]);
            int[] tokens = [.. selector.InitialTokens];
            (float[] keys, float[] values, _) = f.FreshRows(1, tokens, seed: 10); // the same rows for every measure
            selections.Add(string.Join(",", selector.Select(1, tokens, keys, values)));
        }

        Assert.True(selections.Count >= 3, $"only {selections.Count} distinct selections over {Enum.GetValues<DeviationMeasure>().Length} measures");
    }

    [Fact]
    public async Task Ties_go_to_the_earlier_position()
    {
        await using Fixture f = await Fixture.CreateAsync();
        var selector = new RecomputeSelector(f.Kv, new RecomputeOptions { Share = 0.25, Measure = DeviationMeasure.KeyValueSquared });
        int[] tokens = [.. selector.InitialTokens];
        (float[] keys, float[] values) = f.BlendedRows(1, tokens); // no deviation anywhere
        Assert.Equal([3, 4, 5, 15, 16], selector.Select(1, tokens, keys, values));

        var constant = new RecomputeSelector(f.Kv, new RecomputeOptions { Share = 0.25, Scorer = (_, _, _, _, _, _) => 1 });
        (keys, values, _) = f.FreshRows(1, tokens, seed: 3);
        Assert.Equal([3, 4, 5, 15, 16], constant.Select(1, tokens, keys, values));
    }

    [Theory]
    [InlineData(0.3, 2.0)]
    [InlineData(0.25, 2.0)]
    [InlineData(0.1, 3.0)]
    [InlineData(0.6, 2.0)]
    public async Task Gradual_filtering_narrows_to_the_share_and_each_check_keeps_a_subset(double share, double growth)
    {
        await using Fixture f = await Fixture.CreateAsync();
        var selector = new RecomputeSelector(f.Kv, new RecomputeOptions { Share = share, FilterGrowth = growth, CheckLayers = [1, 2] });
        int first = (int)Math.Round(Math.Min(1, share * growth) * Reused, MidpointRounding.AwayFromZero);
        int last = (int)Math.Round(share * Reused, MidpointRounding.AwayFromZero);
        Assert.Equal(first, selector.KeptAfterCheck(0));
        Assert.Equal(last, selector.KeptAfterCheck(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => selector.KeptAfterCheck(2));

        int[] tokens = [.. selector.InitialTokens];
        (float[] keys, float[] values, _) = f.FreshRows(1, tokens, seed: 5);
        int[] afterFirst = selector.Select(1, tokens, keys, values);
        Assert.Equal(first, afterFirst.Count(p => f.Kv.GetOrigin(p) == TokenOrigin.Reused));
        Assert.Subset(tokens.ToHashSet(), afterFirst.ToHashSet());

        (keys, values, _) = f.FreshRows(2, afterFirst, seed: 6);
        int[] afterSecond = selector.Select(2, afterFirst, keys, values);
        Assert.Equal(last, afterSecond.Count(p => f.Kv.GetOrigin(p) == TokenOrigin.Reused));
        Assert.Subset(afterFirst.ToHashSet(), afterSecond.ToHashSet());
        Assert.Subset(afterSecond.ToHashSet(), ComputedPositions.ToHashSet());
        Assert.True(afterSecond.SequenceEqual(afterSecond.Order()), "the selection is not ascending");
    }

    [Fact]
    public async Task Checks_out_of_order_or_repeated_are_an_invalid_recompute()
    {
        await using Fixture f = await Fixture.CreateAsync();
        var selector = new RecomputeSelector(f.Kv, new RecomputeOptions { CheckLayers = [1, 2] });
        int[] tokens = [.. selector.InitialTokens];
        (float[] keys, float[] values, _) = f.FreshRows(1, tokens, seed: 1);

        Assert.Equal(BlendErrorKind.InvalidRecompute, Assert.Throws<BlendException>(() => selector.Select(2, tokens, keys, values)).Kind);
        Assert.Equal(BlendErrorKind.InvalidRecompute, Assert.Throws<BlendException>(() => selector.Select(0, tokens, keys, values)).Kind);
        int[] kept = selector.Select(1, tokens, keys, values);
        Assert.Equal(BlendErrorKind.InvalidRecompute, Assert.Throws<BlendException>(() => selector.Select(1, tokens, keys, values)).Kind);
        (keys, values, _) = f.FreshRows(2, kept, seed: 2);
        selector.Select(2, kept, keys, values);
        Assert.Equal(BlendErrorKind.InvalidRecompute, Assert.Throws<BlendException>(() => selector.Select(2, kept, keys, values)).Kind);
    }

    [Fact]
    public async Task Rows_that_do_not_fit_are_invalid_engine_kv_and_do_not_use_up_the_check()
    {
        await using Fixture f = await Fixture.CreateAsync();
        var selector = new RecomputeSelector(f.Kv);
        int[] tokens = [.. selector.InitialTokens];
        int kvDim = f.Kv.Layout.KvDim;
        (float[] keys, float[] values, _) = f.FreshRows(1, tokens, seed: 1);

        Assert.Equal(BlendErrorKind.InvalidEngineKv, Assert.Throws<BlendException>(() => selector.Select(1, tokens, keys.AsSpan(kvDim), values)).Kind);
        Assert.Equal(BlendErrorKind.InvalidEngineKv, Assert.Throws<BlendException>(() => selector.Select(1, tokens, keys, values.AsSpan(0, values.Length - 1))).Kind);
        int[] reversed = [.. tokens.Reverse()];
        Assert.Equal(BlendErrorKind.InvalidEngineKv, Assert.Throws<BlendException>(() => selector.Select(1, reversed, keys, values)).Kind);
        int[] outside = [.. tokens[..^1], f.Kv.TokenCount];
        Assert.Equal(BlendErrorKind.InvalidEngineKv, Assert.Throws<BlendException>(() => selector.Select(1, outside, keys, values)).Kind);

        Assert.NotEmpty(selector.Select(1, tokens, keys, values));
    }

    [Fact]
    public async Task A_custom_scorer_replaces_the_measure_and_sees_each_reused_position_once()
    {
        await using Fixture f = await Fixture.CreateAsync();
        int kvDim = f.Kv.Layout.KvDim;
        var calls = new List<(int Layer, int Position)>();
        int[] tokens = [];
        float[] keys = [], values = [];
        // Scores that no built-in measure would give: the position's remainder mod 5.
        double Scorer(int layer, int position, ReadOnlySpan<float> freshK, ReadOnlySpan<float> freshV, ReadOnlySpan<float> blendedK, ReadOnlySpan<float> blendedV)
        {
            calls.Add((layer, position));
            int row = Array.IndexOf(tokens, position);
            Bits.Equal(keys.AsSpan(row * kvDim, kvDim), freshK, $"fresh K of {position}");
            Bits.Equal(values.AsSpan(row * kvDim, kvDim), freshV, $"fresh V of {position}");
            Bits.Equal(f.Kv.Keys(layer).Slice(position * kvDim, kvDim), blendedK, $"blended K of {position}");
            Bits.Equal(f.Kv.Values(layer).Slice(position * kvDim, kvDim), blendedV, $"blended V of {position}");
            return position % 5;
        }

        var selector = new RecomputeSelector(f.Kv, new RecomputeOptions { Share = 0.25, CheckLayers = [2], Scorer = Scorer }, alwaysCompute: [4]);
        tokens = [.. selector.InitialTokens];
        (keys, values, _) = f.FreshRows(2, tokens, seed: 7);
        int[] kept = selector.Select(2, tokens, keys, values);

        int[] scored = [.. ReusedPositions.Where(p => p != 4)];
        Assert.Equal(scored.Select(p => (2, p)), calls);
        int[] expectedReused = [.. scored.OrderByDescending(p => p % 5).ThenBy(p => p).Take(selector.KeptAfterCheck(0))];
        Assert.Equal([.. new[] { 4, 15, 16 }.Concat(expectedReused).Order()], kept);
    }

    [Fact]
    public async Task Share_zero_keeps_only_the_positions_that_must_be_computed_and_share_one_keeps_all()
    {
        await using Fixture f = await Fixture.CreateAsync();
        var none = new RecomputeSelector(f.Kv, new RecomputeOptions { Share = 0, CheckLayers = [0, 2] }, alwaysCompute: [9]);
        int[] tokens = [.. none.InitialTokens];
        (float[] keys, float[] values, _) = f.FreshRows(0, tokens, seed: 1);
        int[] kept = none.Select(0, tokens, keys, values);
        Assert.Equal([9, 15, 16], kept);
        (keys, values, _) = f.FreshRows(2, kept, seed: 2);
        Assert.Equal([9, 15, 16], none.Select(2, kept, keys, values));

        var all = new RecomputeSelector(f.Kv, new RecomputeOptions { Share = 1, CheckLayers = [1, 2] });
        tokens = [.. all.InitialTokens];
        (keys, values, _) = f.FreshRows(1, tokens, seed: 3);
        Assert.Equal(tokens, all.Select(1, tokens, keys, values));
        (keys, values, _) = f.FreshRows(2, tokens, seed: 4);
        Assert.Equal(tokens, all.Select(2, tokens, keys, values));
    }

    /// <summary>A store holding the blend's chunks, and the blend (its rows are the stored random KV).</summary>
    private sealed class Fixture : IAsyncDisposable
    {
        private readonly BlendStore _store;

        private Fixture(BlendStore store, BlendedKv kv)
        {
            _store = store;
            Kv = kv;
        }

        public BlendedKv Kv { get; }

        public static async Task<Fixture> CreateAsync()
        {
            var store = new BlendStore(BlendStore.Layout3());
            int[] prefix = BlendStore.Tokens(3, seed: 1);
            ChunkKey prefixKey = store.Keys.PrefixKeys(prefix)[0];
            store.Put(prefixKey, BlendStore.RandomChunk(store.Layout, 3, seed: 2, firstPosition: 0), ChunkKeyKind.Prefix);
            int[] document = BlendStore.Tokens(Reused, seed: 3);
            for (int c = 0; c < Reused / 4; c++)
                store.PutSegment(document.AsSpan(4 * c, 4), firstPosition: 40 + 4 * c, seed: 4 + c);
            BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan(
                [BlendEntry.Prefix(prefixKey, 3, 0), BlendEntry.SegmentTokens(document, 3), BlendEntry.Compute(2, 3 + Reused)]));
            Assert.Empty(kv.MissingEntries);
            return new Fixture(store, kv);
        }

        /// <summary>The blend's own rows of <paramref name="tokens"/> at <paramref name="layer"/>.</summary>
        public (float[] Keys, float[] Values) BlendedRows(int layer, int[] tokens)
        {
            int kvDim = Kv.Layout.KvDim;
            var keys = new float[tokens.Length * kvDim];
            var values = new float[keys.Length];
            for (int row = 0; row < tokens.Length; row++)
            {
                Kv.Keys(layer).Slice(tokens[row] * kvDim, kvDim).CopyTo(keys.AsSpan(row * kvDim));
                Kv.Values(layer).Slice(tokens[row] * kvDim, kvDim).CopyTo(values.AsSpan(row * kvDim));
            }

            return (keys, values);
        }

        /// <summary>
        /// Fresh rows: the blend's rows with one channel of K and one of V moved by distinct amounts (so the squared
        /// distances, recorded per position, are ordered differently for K and V); computed positions get random rows.
        /// </summary>
        public (float[] Keys, float[] Values, Dictionary<int, (double Key, double Value)> Deviations) FreshRows(int layer, int[] tokens, int seed)
        {
            int kvDim = Kv.Layout.KvDim;
            (float[] keys, float[] values) = BlendedRows(layer, tokens);
            var random = new Random(seed);
            int[] keyShift = [.. Enumerable.Range(1, tokens.Length).OrderBy(_ => random.Next())];
            int[] valueShift = [.. Enumerable.Range(1, tokens.Length).OrderBy(_ => random.Next())];
            var deviations = new Dictionary<int, (double, double)>();
            for (int row = 0; row < tokens.Length; row++)
            {
                if (Kv.GetOrigin(tokens[row]) != TokenOrigin.Reused)
                {
                    for (int i = 0; i < kvDim; i++)
                    {
                        keys[row * kvDim + i] = (float)random.NextDouble();
                        values[row * kvDim + i] = (float)random.NextDouble();
                    }

                    continue;
                }

                int k = row * kvDim + random.Next(kvDim), v = row * kvDim + random.Next(kvDim);
                float oldK = keys[k], oldV = values[v];
                keys[k] += 0.5f * keyShift[row];
                values[v] += 0.5f * valueShift[row];
                double dk = (double)keys[k] - oldK, dv = (double)values[v] - oldV;
                deviations[tokens[row]] = (dk * dk, dv * dv);
            }

            return (keys, values, deviations);
        }

        public double SquaredNorm(ReadOnlySpan<float> rows, int position)
        {
            int kvDim = Kv.Layout.KvDim;
            double sum = 0;
            foreach (float x in rows.Slice(position * kvDim, kvDim))
                sum += (double)x * x;
            return sum;
        }

        public ValueTask DisposeAsync() => _store.DisposeAsync();
    }
}
