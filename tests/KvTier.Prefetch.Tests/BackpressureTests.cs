using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>
/// Staging memory never exceeds the budget; a budget smaller than one layer of one chunk still completes (the reader
/// waits for decoders), and a budget smaller than one section fails clearly instead of waiting forever.
/// </summary>
public sealed class BackpressureTests
{
    private static long LargestSection(byte[][] records) =>
        records.Max(r => ChunkRecord.Parse(r).Sections.Max(s => s.Length));

    [Theory]
    [InlineData(CodecId.Raw, 1)]
    [InlineData(CodecId.Raw, 3)]
    [InlineData(CodecId.Ans, 2)]
    public async Task A_budget_of_one_section_still_delivers_everything(CodecId codec, int parallelism)
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(6, codec);
        long budget = LargestSection(records); // Less than one chunk's layer (K and V).
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { StagingBudgetBytes = budget, DecodeParallelism = parallelism, CpuDecodeInPlace = false });
        KvDestination destination = PrefetchStore.Destination(keys.Length);

        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            PrefetchResult result = await request.Completion.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(keys.Length, result.ReusablePrefixChunks);
            for (int c = 0; c < keys.Length; c++)
            {
                for (int layer = 0; layer < 3; layer++)
                    PrefetchStore.AssertDelivered(destination, records[c], c, layer);
            }
        }
        store.AssertReleased(prefetcher);
        PrefetcherStatistics s = prefetcher.GetStatistics();
        Assert.True(s.BackpressureWaits > 0, "the reader never waited for staging memory");
        Assert.True(s.StagingAllocatedBytes <= budget);
    }

    [Fact]
    public async Task Concurrent_requests_share_a_small_budget_without_deadlock()
    {
        using var store = new PrefetchStore();
        var sets = new List<(ChunkKey[] Keys, byte[][] Records)>();
        for (int i = 0; i < 4; i++)
            sets.Add(store.AddChunks(3, i % 2 == 0 ? CodecId.Q8 : CodecId.Raw, seed: 10 + i));
        long budget = 3 * sets.Max(s => LargestSection(s.Records));
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { StagingBudgetBytes = budget, DecodeParallelism = 2, CpuDecodeInPlace = false });
        var destinations = sets.Select(s => PrefetchStore.Destination(s.Keys.Length)).ToArray();
        PrefetchRequest[] requests = [.. sets.Select((s, i) => prefetcher.Start(s.Keys, destinations[i]))];
        await Task.WhenAll(requests.Select(r => r.Completion)).WaitAsync(TimeSpan.FromSeconds(20));
        for (int i = 0; i < sets.Count; i++)
        {
            await requests[i].DisposeAsync();
            for (int c = 0; c < sets[i].Keys.Length; c++)
            {
                for (int layer = 0; layer < 3; layer++)
                    PrefetchStore.AssertDelivered(destinations[i], sets[i].Records[c], c, layer);
            }
        }
        store.AssertReleased(prefetcher);
    }

    [Fact]
    public async Task A_budget_smaller_than_one_section_fails_the_request_with_a_clear_error()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(2, CodecId.Raw);
        long section = LargestSection(records);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { StagingBudgetBytes = section - 1, CpuDecodeInPlace = false });
        PrefetchRequest request = prefetcher.Start(keys, PrefetchStore.Destination(keys.Length));

        var error = await Assert.ThrowsAsync<PrefetchException>(async () => await request.WaitForLayerAsync(0));
        Assert.Equal(PrefetchErrorKind.BudgetTooSmall, error.Kind);
        Assert.Contains(nameof(PrefetcherOptions.StagingBudgetBytes), error.Message);
        Assert.Contains($"{section} bytes", error.Message);
        await Assert.ThrowsAsync<PrefetchException>(() => request.Completion);
        await request.DisposeAsync();
        store.AssertReleased(prefetcher);
    }
}
