using KvTier.Format.Codecs;
using KvTier.Keys;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary><see cref="Prefetcher.RequestStarted"/>: every started request is announced once, before Start returns it.</summary>
public sealed class RequestStartedTests
{
    [Fact]
    public async Task Every_request_is_announced_once_before_Start_returns_it()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, _) = store.AddChunks(2, CodecId.Raw);
        await using var prefetcher = new Prefetcher(store.Store);
        var announced = new List<PrefetchRequest>();
        prefetcher.RequestStarted += announced.Add;

        await using PrefetchRequest first = prefetcher.Start(keys, PrefetchStore.Destination(keys.Length));
        Assert.Same(first, Assert.Single(announced));
        Assert.True(first.StartTimestamp > 0);
        Assert.Equal(2, (await first.Completion).ReusablePrefixChunks);
    }

    [Fact]
    public async Task A_handler_that_throws_fails_Start_and_the_request_releases_what_it_held()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, _) = store.AddChunks(3, CodecId.Ans);
        await using var prefetcher = new Prefetcher(store.Store);
        PrefetchRequest? seen = null;
        prefetcher.RequestStarted += request =>
        {
            seen = request;
            throw new InvalidOperationException("handler failed");
        };

        var error = Assert.Throws<InvalidOperationException>(() => prefetcher.Start(keys, PrefetchStore.Destination(keys.Length)));
        Assert.Equal("handler failed", error.Message);
        Assert.NotNull(seen);
        await seen.DisposeAsync(); // waits for the pipeline Start already cancelled (a second dispose only waits)
        Assert.True(seen.Completion.IsCompleted); // usually cancelled; a fast pipeline may have finished first
        store.AssertReleased(prefetcher);
    }
}
