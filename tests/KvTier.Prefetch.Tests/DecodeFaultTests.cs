using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Prefetch.Decoding;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>What a decoder's failures do: a malformed payload costs its chunk; any other error fails the request cleanly.</summary>
public sealed class DecodeFaultTests
{
    private sealed class FailingDecoder(Func<StagedSection, Exception?> fail) : ISectionDecoder
    {
        public string Name => "failing";

        public ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken)
        {
            if (fail(section) is { } error)
                throw error;
            CpuSectionDecoder.Decode(section, destination.Span);
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task A_payload_that_does_not_decode_makes_its_chunk_corrupt_for_the_request()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(3, CodecId.Q8);
        var decoder = new FailingDecoder(s => s.Chunk == 0 && s.Layer == 2 ? new ChunkRecordException(ChunkRecordErrorKind.BadPayload, "test") : null);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = decoder });
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            PrefetchResult result = await request.Completion;
            Assert.Equal([ChunkStatus.Corrupt, ChunkStatus.Loaded, ChunkStatus.Loaded], result.Chunks);
            Assert.Equal(0, result.ReusablePrefixChunks);
            Assert.Equal(0, (await request.WaitForLayerAsync(2)).PrefixChunks);
            PrefetchStore.AssertDelivered(destination, records[2], 2, 2);
        }
        store.AssertReleased(prefetcher);
    }

    [Fact]
    public async Task Any_other_decoder_error_fails_the_request_and_releases_everything()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, _) = store.AddChunks(4, CodecId.Ans);
        var decoder = new FailingDecoder(s => s.Layer == 1 ? new InvalidOperationException("device lost") : null);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = decoder, DecodeParallelism = 2 });
        PrefetchRequest request = prefetcher.Start(keys, PrefetchStore.Destination(keys.Length));
        await request.WaitForLayerAsync(0);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await request.WaitForLayerAsync(1));
        Assert.Equal("device lost", error.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => request.Completion);
        await request.DisposeAsync();
        store.AssertReleased(prefetcher);
    }
}
