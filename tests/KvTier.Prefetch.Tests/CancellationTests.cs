using KvTier.Format.Codecs;
using KvTier.Keys;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>A request dropped midway (cancel, dispose, the caller's token) releases every lease and staging block.</summary>
public sealed class CancellationTests
{
    public enum Drop
    {
        Cancel,
        Dispose,
        CallerToken,
        PrefetcherDispose,
    }

    [Theory]
    [InlineData(Drop.Cancel)]
    [InlineData(Drop.Dispose)]
    [InlineData(Drop.CallerToken)]
    [InlineData(Drop.PrefetcherDispose)]
    public async Task Dropping_a_request_midway_releases_every_lease_and_buffer(Drop drop)
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(6, CodecId.Ans, PrefetchStore.Layout(layers: 6));
        var holdLayer2 = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // never released
        var decoder = new TestDecoder((chunk, layer, ct) => layer >= 2 ? holdLayer2.Task.WaitAsync(ct) : Task.CompletedTask);
        var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { DecodeParallelism = 3, Decoder = decoder, StagingBudgetBytes = 1 << 20 });
        KvDestination destination = PrefetchStore.Destination(keys.Length, PrefetchStore.Layout(layers: 6));
        using var caller = new CancellationTokenSource();
        PrefetchRequest request = prefetcher.Start(keys, destination, caller.Token);

        await request.WaitForLayerAsync(1);
        PrefetchStore.AssertDelivered(destination, records[5], 5, 1);
        Assert.True(store.Store.GetStatistics().OpenLeases > 0);
        // Layer 2's sections are held in the decoder (so their staging blocks stay rented) once the reader stages them.
        Assert.True(SpinWait.SpinUntil(() => prefetcher.GetStatistics().StagingRentedBytes > 0, TimeSpan.FromSeconds(30)));

        ValueTask<LayerReady> layer3 = request.WaitForLayerAsync(3);
        switch (drop)
        {
            case Drop.Cancel:
                request.Cancel();
                break;
            case Drop.Dispose:
                await request.DisposeAsync();
                break;
            case Drop.CallerToken:
                caller.Cancel();
                break;
            case Drop.PrefetcherDispose:
                await prefetcher.DisposeAsync();
                break;
        }
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await layer3);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.Completion);
        await request.DisposeAsync();
        Assert.Equal(ChunkStatus.Loading, request.GetChunkStatus(0)); // Never completed.
        store.AssertReleased(prefetcher);
        await prefetcher.DisposeAsync();
        Assert.Equal(0, prefetcher.GetStatistics().StagingAllocatedBytes);
        Assert.Throws<ObjectDisposedException>(() => prefetcher.Start(keys, destination));
    }

    [Fact]
    public async Task Cancelling_a_reader_that_waits_for_staging_memory_releases_everything()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, _) = store.AddChunks(4, CodecId.Raw);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var decoder = new TestDecoder((chunk, layer, ct) => hold.Task.WaitAsync(ct));
        // Room for two sections: the reader stages two and then waits on the budget while both decoders are held.
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { DecodeParallelism = 2, Decoder = decoder, StagingBudgetBytes = 2048 });
        PrefetchRequest request = prefetcher.Start(keys, PrefetchStore.Destination(keys.Length));
        for (int i = 0; i < 200 && prefetcher.GetStatistics().BackpressureWaits == 0; i++)
            await Task.Delay(10);
        Assert.True(prefetcher.GetStatistics().BackpressureWaits > 0);
        await request.DisposeAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.Completion);
        store.AssertReleased(prefetcher);
    }

    [Fact]
    public async Task Cancelling_after_completion_changes_nothing()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, _) = store.AddChunks(2, CodecId.Raw);
        await using var prefetcher = new Prefetcher(store.Store);
        PrefetchRequest request = prefetcher.Start(keys, PrefetchStore.Destination(2));
        PrefetchResult result = await request.Completion;
        request.Cancel();
        await request.DisposeAsync();
        Assert.Equal(2, result.ReusablePrefixChunks);
        Assert.Equal(0, (await request.WaitForLayerAsync(0)).Layer);
        store.AssertReleased(prefetcher);
    }
}
