using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Prefetch.Decoding;
using KvTier.Storage;
using KvTier.Testing.Remote;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>Records come from whichever tier holds them, and the layer batches expose the delivered rows.</summary>
public sealed class StoreTierTests
{
    [Fact]
    public async Task Layer_batches_expose_the_decoded_rows_of_each_layer()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(2, CodecId.Raw, lastTokens: PrefetchStore.ChunkTokens);
        await using var prefetcher = new Prefetcher(store.Store);
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using PrefetchRequest request = prefetcher.Start(keys, destination);
        await foreach (LayerReady batch in request.Layers)
        {
            Assert.Equal(destination.TokenCapacity * destination.KvDim, batch.Keys.Length);
            Assert.True(batch.Keys.Span.SequenceEqual(destination.Section(batch.Layer, Format.SectionKind.Keys).Span));
            Assert.True(batch.Values.Span.SequenceEqual(destination.Section(batch.Layer, Format.SectionKind.Values).Span));
        }
        PrefetchStore.AssertDelivered(destination, records[1], 1, 2);
    }

    [Fact]
    public async Task Records_promoted_into_the_memory_tier_are_prefetched_from_it()
    {
        using var store = new PrefetchStore(memoryBytes: 16 << 20);
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(3, CodecId.Ans);
        foreach (ChunkKey key in keys)
        {
            Assert.True(store.Store.TryGet(key, ReadVerification.Full, out RecordLease? lease)); // A verified get promotes.
            lease.Dispose();
        }
        long memoryHits = store.Store.GetStatistics().MemoryHits;
        await using var prefetcher = new Prefetcher(store.Store);
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            Assert.Equal(3, (await request.Completion).ReusablePrefixChunks);
            for (int c = 0; c < keys.Length; c++)
            {
                Assert.Equal(ChunkSource.Memory, request.GetChunkSource(c));
                for (int layer = 0; layer < 3; layer++)
                    PrefetchStore.AssertDelivered(destination, records[c], c, layer);
            }
        }
        Assert.Equal(memoryHits + 3, store.Store.GetStatistics().MemoryHits);
        store.AssertReleased(prefetcher);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Memory_tier_records_decode_in_place_or_staged_to_the_same_values(bool inPlace)
    {
        using var store = new PrefetchStore(memoryBytes: 16 << 20);
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(4, CodecId.Raw);
        foreach (ChunkKey key in keys)
        {
            Assert.True(store.Store.TryGet(key, ReadVerification.Full, out RecordLease? lease));
            lease.Dispose();
        }
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { CpuDecodeInPlace = inPlace, DecodeParallelism = 2 });
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            Assert.Equal(keys.Length, (await request.Completion).ReusablePrefixChunks);
            for (int c = 0; c < keys.Length; c++)
            {
                for (int layer = 0; layer < 3; layer++)
                    PrefetchStore.AssertDelivered(destination, records[c], c, layer);
            }
        }
        store.AssertReleased(prefetcher);
        PrefetcherStatistics statistics = prefetcher.GetStatistics();
        Assert.Equal(inPlace, statistics.StagingAllocatedBytes == 0);
    }

    [Fact]
    public async Task Chunks_only_the_remote_tier_holds_are_fetched_delivered_and_reported_as_remote()
    {
        var remote = new InMemoryRemoteTier();
        using var store = new PrefetchStore(remote: remote);
        // Chunks 1 and 3 exist only at the remote (another instance computed them); chunk 4 exists nowhere.
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(5, CodecId.Ans, tamper: (c, record) =>
        {
            if (c is 1 or 3)
                remote.Seed(record);
            return c is 1 or 3 or 4 ? null : record;
        });
        await store.Store.FlushRemoteAsync();
        await using var prefetcher = new Prefetcher(store.Store);
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            PrefetchResult result = await request.Completion;
            Assert.Equal([ChunkStatus.Loaded, ChunkStatus.Loaded, ChunkStatus.Loaded, ChunkStatus.Loaded, ChunkStatus.NotFound], result.Chunks);
            Assert.Equal<ChunkSource?[]>([ChunkSource.Disk, ChunkSource.Remote, ChunkSource.Disk, ChunkSource.Remote, null],
                [.. Enumerable.Range(0, keys.Length).Select(request.GetChunkSource)]);
            Assert.Throws<ArgumentOutOfRangeException>(() => request.GetChunkSource(keys.Length));
            for (int c = 0; c < 4; c++)
            {
                for (int layer = 0; layer < 3; layer++)
                    PrefetchStore.AssertDelivered(destination, records[c], c, layer);
            }
        }
        store.AssertReleased(prefetcher);
        Assert.Equal(2, store.Store.GetStatistics().RemoteHits);
        Assert.True(store.Store.Contains(keys[1])); // Kept locally for the next request.
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_wrapping_decoder_decodes_in_place_only_when_it_says_it_can(bool unstaged)
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(3, CodecId.Q8);
        var decoder = new WrappingDecoder(unstaged);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = decoder });
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
            Assert.Equal(keys.Length, (await request.Completion).ReusablePrefixChunks);

        for (int c = 0; c < keys.Length; c++)
            PrefetchStore.AssertDelivered(destination, records[c], c, 2);
        Assert.Equal(unstaged, prefetcher.GetStatistics().StagingAllocatedBytes == 0);
        Assert.Equal(!unstaged, decoder.SawStaged);
        store.AssertReleased(prefetcher);
    }

    private sealed class WrappingDecoder(bool unstaged) : ISectionDecoder
    {
        private int _staged;

        public string Name => "wrapping";

        public bool DecodesUnstagedPayloads => unstaged;

        public bool SawStaged => Volatile.Read(ref _staged) != 0;

        public ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken)
        {
            if (section.IsStaged)
                Volatile.Write(ref _staged, 1);
            return CpuSectionDecoder.Instance.DecodeAsync(section, destination, cancellationToken);
        }
    }
}
