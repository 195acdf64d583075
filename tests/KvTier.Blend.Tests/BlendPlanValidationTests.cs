using KvTier.Keys;
using KvTier.Layout;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// A plan must tile <c>[0, n)</c> exactly, within the positions the format allows and the blender's context; options of
/// blending and recomputation are checked when their component is created. Every refusal is a typed error.
/// </summary>
public sealed class BlendPlanValidationTests
{
    private static readonly ChunkKey SomeKey = new ChunkKeys("plan-test", BlendStore.Layout3(), "", 4).SegmentKey([1, 2, 3, 4]);

    private static BlendErrorKind PlanError(params BlendEntry[] entries) =>
        Assert.Throws<BlendException>(() => new BlendPlan(entries)).Kind;

    [Fact]
    public void A_plan_that_does_not_start_at_zero_has_a_gap()
    {
        Assert.Equal(BlendErrorKind.Gap, PlanError(BlendEntry.Compute(3, 1)));
        Assert.Equal(BlendErrorKind.Gap, PlanError(BlendEntry.Compute(3, 5), BlendEntry.Segment(SomeKey, 4, 8)));
    }

    [Fact]
    public void A_hole_between_entries_is_a_gap()
    {
        Assert.Equal(BlendErrorKind.Gap, PlanError(BlendEntry.Compute(3, 0), BlendEntry.Segment(SomeKey, 4, 4)));
        Assert.Equal(BlendErrorKind.Gap, PlanError(BlendEntry.Compute(3, 0), BlendEntry.Compute(2, 3), BlendEntry.Compute(1, 6)));
    }

    [Fact]
    public void An_empty_plan_is_refused()
    {
        Assert.Equal(BlendErrorKind.Gap, PlanError());
    }

    [Fact]
    public void Entries_claiming_the_same_position_overlap()
    {
        Assert.Equal(BlendErrorKind.Overlap, PlanError(BlendEntry.Compute(4, 0), BlendEntry.Segment(SomeKey, 4, 3)));
        Assert.Equal(BlendErrorKind.Overlap, PlanError(BlendEntry.Compute(4, 0), BlendEntry.Compute(4, 0)));
        Assert.Equal(BlendErrorKind.Overlap, PlanError(BlendEntry.Compute(10, 0), BlendEntry.Compute(2, 4)));
    }

    [Fact]
    public void A_negative_start_is_out_of_range()
    {
        Assert.Equal(BlendErrorKind.OutOfRange, PlanError(BlendEntry.Compute(3, -1), BlendEntry.Compute(4, 2)));
        Assert.Equal(BlendErrorKind.OutOfRange, PlanError(BlendEntry.Compute(3, int.MinValue)));
    }

    [Fact]
    public void An_entry_ending_past_the_largest_position_is_out_of_range()
    {
        // [int.MaxValue − 1, int.MaxValue + 1) ends one past what a position can be.
        Assert.Equal(BlendErrorKind.OutOfRange, PlanError(BlendEntry.Compute(int.MaxValue - 1, 0), BlendEntry.Compute(2, int.MaxValue - 1)));
        Assert.Equal(BlendErrorKind.OutOfRange, PlanError(BlendEntry.Compute(int.MaxValue, 1)));
    }

    [Fact]
    public void A_plan_ending_exactly_at_the_largest_position_is_accepted()
    {
        var plan = new BlendPlan([BlendEntry.Compute(int.MaxValue - 5, 0), BlendEntry.Compute(5, int.MaxValue - 5)]);
        Assert.Equal(int.MaxValue, plan.TokenCount);
    }

    [Fact]
    public void Entries_are_sorted_by_target_position_and_the_token_count_is_where_the_last_ends()
    {
        BlendEntry a = BlendEntry.Compute(2, 0);
        BlendEntry b = BlendEntry.Segment(SomeKey, 4, 2);
        BlendEntry c = BlendEntry.SegmentTokens(new[] { 7, 8, 9 }, 6);
        BlendEntry d = BlendEntry.Prefix(SomeKey, 1, 9);
        var plan = new BlendPlan([c, a, d, b]);
        Assert.Equal([a, b, c, d], plan.Entries);
        Assert.Equal(10, plan.TokenCount);
    }

    /// <summary>
    /// Any tiling, given in any order, is accepted and sorted; dropping an entry other than the last leaves a gap, and
    /// lengthening an entry other than the last makes it overlap the next.
    /// </summary>
    [Fact]
    public void Tilings_are_accepted_in_any_order_and_broken_tilings_are_refused()
    {
        for (int seed = 0; seed < 200; seed++)
            CheckTiling(new Random(seed));
    }

    private static void CheckTiling(Random random)
    {
        int count = random.Next(1, 8);
        var entries = new BlendEntry[count];
        int start = 0;
        for (int i = 0; i < count; i++)
        {
            int length = random.Next(1, 12);
            entries[i] = (i % 3) switch
            {
                0 => BlendEntry.Compute(length, start),
                1 => BlendEntry.Segment(SomeKey, length, start),
                _ => BlendEntry.Prefix(SomeKey, length, start),
            };
            start += length;
        }

        var plan = new BlendPlan(entries.OrderBy(_ => random.Next()));
        Assert.Equal(entries, plan.Entries);
        Assert.Equal(start, plan.TokenCount);

        if (count < 2)
            return;
        int victim = random.Next(count - 1);
        Assert.Equal(BlendErrorKind.Gap, PlanError([.. entries.Where((_, i) => i != victim)]));
        BlendEntry longer = BlendEntry.Compute(entries[victim].TokenCount + 1, entries[victim].TargetStart);
        Assert.Equal(BlendErrorKind.Overlap, PlanError([.. entries.Select((e, i) => i == victim ? longer : e)]));
    }

    [Fact]
    public void An_entry_covers_at_least_one_token()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BlendEntry.Compute(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlendEntry.Segment(SomeKey, -1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlendEntry.SegmentTokens(ReadOnlyMemory<int>.Empty, 0));
    }

    [Fact]
    public async Task A_plan_past_the_context_length_is_refused_before_anything_is_read()
    {
        await using var store = new BlendStore(BlendStore.Layout3(), new BlendOptions { ContextLength = 16 });
        var fits = new BlendPlan([BlendEntry.Compute(16, 0)]);
        var tooLong = new BlendPlan([BlendEntry.Compute(16, 0), BlendEntry.Compute(1, 16)]);
        Assert.Equal(BlendErrorKind.OutOfRange, Assert.Throws<BlendException>(() => store.Blender.Start(tooLong)).Kind);
        Assert.Equal(BlendErrorKind.OutOfRange, (await Assert.ThrowsAsync<BlendException>(() => store.Blender.BlendAsync(tooLong))).Kind);
        BlendedKv kv = await store.Blender.BlendAsync(fits);
        Assert.Equal(16, kv.TokenCount);
        Assert.Equal(0, store.Prefetcher.GetStatistics().ActiveRequests);
    }

    [Fact]
    public async Task Blend_options_are_validated_when_the_blender_is_created()
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Blender(store.Prefetcher, store.Keys, new BlendOptions { ContextLength = -1 }));
        Assert.Contains(nameof(BlendOptions.ContextLength), e.Message);
        Assert.Throws<ArgumentNullException>(() => new Blender(null!, store.Keys));
        Assert.Throws<ArgumentNullException>(() => new Blender(store.Prefetcher, null!));
        Assert.Equal(new BlendOptions(), new Blender(store.Prefetcher, store.Keys).Options);
    }

    public static TheoryData<string, RecomputeOptions> BadRecomputeOptions => new()
    {
        { "Share", new RecomputeOptions { Share = -0.01 } },
        { "Share", new RecomputeOptions { Share = 1.01 } },
        { "Share", new RecomputeOptions { Share = double.NaN } },
        { "FilterGrowth", new RecomputeOptions { FilterGrowth = 0.99 } },
        { "FilterGrowth", new RecomputeOptions { FilterGrowth = double.NaN } },
        { "FilterGrowth", new RecomputeOptions { FilterGrowth = double.PositiveInfinity } },
        { "CheckLayers", new RecomputeOptions { CheckLayers = [] } },
        { "CheckLayers", new RecomputeOptions { CheckLayers = [2, 1] } },
        { "CheckLayers", new RecomputeOptions { CheckLayers = [1, 1] } },
        { "CheckLayers", new RecomputeOptions { CheckLayers = [-1, 1] } },
        { "Measure", new RecomputeOptions { Measure = (DeviationMeasure)99 } },
    };

    [Theory]
    [MemberData(nameof(BadRecomputeOptions))]
    public async Task Bad_recompute_options_are_refused_naming_the_option(string option, RecomputeOptions options)
    {
        BlendedKv kv = await ComputedOnlyBlendAsync();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RecomputeSelector(kv, options));
        Assert.Contains(option, e.Message);
    }

    [Theory]
    [InlineData(new[] { 3 })]
    [InlineData(new[] { 1, 3 })]
    [InlineData(new[] { 0, 1, 2, 7 })]
    public async Task A_check_layer_at_or_past_the_layer_count_is_an_invalid_recompute(int[] checkLayers)
    {
        BlendedKv kv = await ComputedOnlyBlendAsync(); // 3 layers
        var e = Assert.Throws<BlendException>(() => new RecomputeSelector(kv, new RecomputeOptions { CheckLayers = checkLayers }));
        Assert.Equal(BlendErrorKind.InvalidRecompute, e.Kind);
        Assert.True(new RecomputeSelector(kv, new RecomputeOptions { CheckLayers = [0, 1, 2] }).IsCheckLayer(2));
    }

    [Fact]
    public async Task An_always_compute_position_outside_the_blend_is_refused()
    {
        BlendedKv kv = await ComputedOnlyBlendAsync();
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecomputeSelector(kv, null, [kv.TokenCount]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecomputeSelector(kv, null, [-1]));
    }

    private static async Task<BlendedKv> ComputedOnlyBlendAsync()
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        return await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Compute(6, 0)]));
    }
}
