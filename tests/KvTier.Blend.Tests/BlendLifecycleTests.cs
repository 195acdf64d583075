using KvTier.Prefetch;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// A blend hands out its layers in order as they arrive; cancelling or disposing a running blend ends it without a
/// layer ever completing half-written and releases every lease; a prefetcher that skips chunks cannot serve a blender.
/// </summary>
public sealed class BlendLifecycleTests
{
    /// <summary>Guards against a hang only; never a measure of speed.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Every_layer_completes_with_the_same_blend_as_the_completion()
    {
        await using var store = new BlendStore(BlendStore.Layout3(layers: 5));
        int[] tokens = BlendStore.Tokens(8, seed: 1);
        store.PutSegment(tokens.AsSpan(0, 4), firstPosition: 30, seed: 2);
        store.PutSegment(tokens.AsSpan(4, 4), firstPosition: 34, seed: 3);

        await using BlendRequest request = store.Blender.Start(new BlendPlan([BlendEntry.Compute(2, 0), BlendEntry.SegmentTokens(tokens, 2)]));
        for (int layer = 0; layer < 5; layer++)
            Assert.Same(request.Kv, await request.WaitForLayerAsync(layer).AsTask().WaitAsync(HangGuard));
        Assert.Same(request.Kv, await request.Completion.WaitAsync(HangGuard));
        Assert.Equal(8, request.Kv.ReusedTokens.Count);
        Assert.Same(request.Kv, await request.WaitForLayerAsync(0)); // and again, once complete
        Assert.Throws<ArgumentOutOfRangeException>(() => request.WaitForLayerAsync(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => request.WaitForLayerAsync(-1));
    }

    [Fact]
    public async Task Disposing_a_running_blend_cancels_the_layers_not_yet_assembled_and_releases_everything()
    {
        var decoder = new HoldingDecoder(holdFromLayer: 1);
        await using var store = new BlendStore(BlendStore.Layout3(), prefetcherOptions: new PrefetcherOptions { Decoder = decoder, DecodeParallelism = 2 });
        int[] tokens = BlendStore.Tokens(4, seed: 1);
        store.PutSegment(tokens, firstPosition: 10, seed: 2);

        BlendRequest request = store.Blender.Start(new BlendPlan([BlendEntry.Compute(1, 0), BlendEntry.SegmentTokens(tokens, 1)]));
        BlendedKv kv = await request.WaitForLayerAsync(0).AsTask().WaitAsync(HangGuard);
        Assert.Equal([1, 2, 3, 4], kv.ReusedTokens);
        Task<BlendedKv> layer1 = request.WaitForLayerAsync(1).AsTask();
        Assert.False(layer1.IsCompleted, "layer 1 completed while its sections were held");

        await request.DisposeAsync().AsTask().WaitAsync(HangGuard);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => layer1);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WaitForLayerAsync(2).AsTask());
        Assert.True(request.Completion.IsCanceled);
        store.AssertReleased();
        await request.DisposeAsync(); // idempotent
        request.Cancel();             // harmless after the end
    }

    [Fact]
    public async Task Cancelling_through_the_token_or_Cancel_ends_a_running_blend()
    {
        foreach (bool useToken in new[] { true, false })
        {
            var decoder = new HoldingDecoder(holdFromLayer: 1);
            await using var store = new BlendStore(BlendStore.Layout3(), prefetcherOptions: new PrefetcherOptions { Decoder = decoder, DecodeParallelism = 2 });
            int[] tokens = BlendStore.Tokens(4, seed: 1);
            store.PutSegment(tokens, firstPosition: 10, seed: 2);
            using var cts = new CancellationTokenSource();

            await using (BlendRequest request = store.Blender.Start(new BlendPlan([BlendEntry.SegmentTokens(tokens, 0)]), cts.Token))
            {
                await request.WaitForLayerAsync(0).AsTask().WaitAsync(HangGuard);
                if (useToken)
                    await cts.CancelAsync();
                else
                    request.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.Completion.WaitAsync(HangGuard));
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WaitForLayerAsync(2).AsTask());
            }

            store.AssertReleased();
        }
    }

    [Fact]
    public async Task A_blend_started_with_a_cancelled_token_never_completes_a_layer()
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        int[] tokens = BlendStore.Tokens(4, seed: 1);
        store.PutSegment(tokens, firstPosition: 10, seed: 2);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => store.Blender.BlendAsync(new BlendPlan([BlendEntry.SegmentTokens(tokens, 0)]), new CancellationToken(canceled: true)));
        store.AssertReleased();
    }

    [Fact]
    public async Task Cancelling_one_wait_leaves_the_blend_running()
    {
        var decoder = new HoldingDecoder(holdFromLayer: 1);
        await using var store = new BlendStore(BlendStore.Layout3(), prefetcherOptions: new PrefetcherOptions { Decoder = decoder, DecodeParallelism = 2 });
        int[] tokens = BlendStore.Tokens(4, seed: 1);
        StoredChunk stored = store.PutSegment(tokens, firstPosition: 0, seed: 2);

        await using BlendRequest request = store.Blender.Start(new BlendPlan([BlendEntry.SegmentTokens(tokens, 0)]));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WaitForLayerAsync(2, new CancellationToken(canceled: true)).AsTask());
        decoder.Release();
        BlendedKv kv = await request.Completion.WaitAsync(HangGuard);
        Bits.Equal(stored.Keys[2], kv.Keys(2), "layer 2 K");
    }

    [Fact]
    public async Task A_prefetcher_that_skips_chunks_after_a_missing_one_is_refused()
    {
        await using var store = new BlendStore(BlendStore.Layout3());
        await using var skipping = new Prefetcher(store.Store, new PrefetcherOptions { SkipChunksAfterMissing = true });
        ArgumentException e = Assert.Throws<ArgumentException>(() => new Blender(skipping, store.Keys));
        Assert.Equal("prefetcher", e.ParamName);
    }
}
