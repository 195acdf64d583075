using KvTier.Format.Codecs;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>Layers complete in order, and a layer's rows are complete when its awaitable completes.</summary>
public sealed class LayerReadinessTests
{
    [Fact]
    public async Task Layers_yield_in_order_with_complete_data_even_when_a_later_layer_decodes_first()
    {
        using var store = new PrefetchStore();
        (var keys, byte[][] records) = store.AddChunks(4, CodecId.Ans, PrefetchStore.Layout(layers: 5));
        // Layer 0 is slow and layer 3 slower still: later layers finish decoding first but must not be reported first.
        var decoder = new TestDecoder((chunk, layer, ct) => layer switch
        {
            0 => Task.Delay(40, ct),
            3 => Task.Delay(80, ct),
            _ => Task.CompletedTask,
        });
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { DecodeParallelism = 4, Decoder = decoder });
        KvDestination destination = PrefetchStore.Destination(keys.Length, PrefetchStore.Layout(layers: 5));
        await using PrefetchRequest request = prefetcher.Start(keys, destination);

        var order = new List<int>();
        await foreach (LayerReady ready in request.Layers)
        {
            order.Add(ready.Layer);
            Assert.Equal(keys.Length, ready.PrefixChunks);
            for (int c = 0; c < keys.Length; c++)
                PrefetchStore.AssertDelivered(destination, records[c], c, ready.Layer);
        }
        Assert.Equal([0, 1, 2, 3, 4], order);
        await request.Completion;
    }

    [Fact]
    public async Task Sections_are_read_layer_major_so_layer_0_of_every_chunk_comes_first()
    {
        using var store = new PrefetchStore();
        (var keys, _) = store.AddChunks(3, CodecId.Raw);
        var seen = new List<(int Layer, int Chunk)>();
        var decoder = new TestDecoder((chunk, layer, ct) =>
        {
            lock (seen)
                seen.Add((layer, chunk));
            return Task.CompletedTask;
        });
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { DecodeParallelism = 1, Decoder = decoder });
        await using PrefetchRequest request = prefetcher.Start(keys, PrefetchStore.Destination(keys.Length));
        await request.Completion;
        var expected = new List<(int, int)>();
        for (int layer = 0; layer < 3; layer++)
        {
            for (int chunk = 0; chunk < 3; chunk++)
                expected.AddRange([(layer, chunk), (layer, chunk)]); // K then V
        }
        Assert.Equal(expected, seen);
    }

    [Fact]
    public async Task Waiting_for_a_late_layer_implies_every_earlier_layer_is_ready()
    {
        using var store = new PrefetchStore();
        (var keys, byte[][] records) = store.AddChunks(3, CodecId.Q8);
        var decoder = new TestDecoder((chunk, layer, ct) => layer == 0 && chunk == 2 ? Task.Delay(60, ct) : Task.CompletedTask);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { DecodeParallelism = 3, Decoder = decoder });
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using PrefetchRequest request = prefetcher.Start(keys, destination);

        LayerReady last = await request.WaitForLayerAsync(2);
        Assert.Equal(2, last.Layer);
        for (int layer = 0; layer <= 2; layer++)
        {
            Assert.True(request.WaitForLayerAsync(layer).IsCompletedSuccessfully);
            for (int c = 0; c < keys.Length; c++)
                PrefetchStore.AssertDelivered(destination, records[c], c, layer);
        }
    }

    [Fact]
    public async Task A_cancelled_wait_stops_only_the_wait()
    {
        using var store = new PrefetchStore();
        (var keys, byte[][] records) = store.AddChunks(2, CodecId.Raw);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var decoder = new TestDecoder((chunk, layer, ct) => layer == 1 ? gate.Task.WaitAsync(ct) : Task.CompletedTask);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = decoder });
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using PrefetchRequest request = prefetcher.Start(keys, destination);

        using var waitCancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await request.WaitForLayerAsync(1, waitCancel.Token));
        gate.SetResult();
        await request.WaitForLayerAsync(2);
        PrefetchStore.AssertDelivered(destination, records[1], 1, 1);
    }

    [Fact]
    public async Task Layer_and_chunk_arguments_out_of_range_are_rejected()
    {
        using var store = new PrefetchStore();
        (var keys, _) = store.AddChunks(1, CodecId.Raw);
        await using var prefetcher = new Prefetcher(store.Store);
        await using PrefetchRequest request = prefetcher.Start(keys, PrefetchStore.Destination(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => request.WaitForLayerAsync(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => request.WaitForLayerAsync(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => request.GetChunkStatus(1));
        await request.Completion;
    }

    [Fact]
    public async Task The_reader_stays_within_MaxLayersAhead_of_the_first_undelivered_layer()
    {
        using var store = new PrefetchStore();
        (Keys.ChunkKey[] keys, byte[][] records) = store.AddChunks(3, CodecId.Raw, PrefetchStore.Layout(layers: 6));
        var holdLayer0 = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var decoder = new TestDecoder((chunk, layer, ct) => layer == 0 ? holdLayer0.Task.WaitAsync(ct) : Task.CompletedTask);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = decoder, MaxLayersAhead = 2, DecodeParallelism = 2 });
        KvDestination destination = PrefetchStore.Destination(keys.Length, PrefetchStore.Layout(layers: 6));
        PrefetchRequest request = prefetcher.Start(keys, destination);

        // Layers 0 and 1 (3 chunks, K and V) are staged; layer 2 must wait for layer 0, which the decoder holds.
        Assert.True(SpinWait.SpinUntil(() => prefetcher.GetStatistics().SectionsStaged >= 12, TimeSpan.FromSeconds(30)));
        await Task.Delay(300); // Room for a reader that ignored the window to stage layer 2.
        Assert.Equal(12, prefetcher.GetStatistics().SectionsStaged);

        holdLayer0.SetResult();
        PrefetchResult result = await request.Completion;
        Assert.Equal(3, result.ReusablePrefixChunks);
        for (int layer = 0; layer < 6; layer++)
        {
            for (int chunk = 0; chunk < keys.Length; chunk++)
                PrefetchStore.AssertDelivered(destination, records[chunk], chunk, layer);
        }
        Assert.Equal(36, prefetcher.GetStatistics().SectionsStaged);
    }
}
