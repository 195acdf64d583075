using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>What the prefetcher delivers is <see cref="ChunkRecord.DecodeSection"/>'s output, bit for bit, for every codec.</summary>
public sealed class DecodeEquivalenceTests
{
    // The last column: CPU decoding in place from the tier's bytes (the default) or from staged copies.
    public static TheoryData<CodecId, KvElementType, int, bool> Cases() => new()
    {
        { CodecId.Raw, KvElementType.Float16, 1, true },
        { CodecId.Raw, KvElementType.Float32, 4, false },
        { CodecId.Raw, KvElementType.BFloat16, 2, true },
        { CodecId.Raw, KvElementType.BFloat16, 2, false },
        { CodecId.Q8, KvElementType.Float16, 2, false },
        { CodecId.Q8, KvElementType.Float32, 1, true },
        { CodecId.Ans, KvElementType.Float16, 2, true },
        { CodecId.Ans, KvElementType.BFloat16, 4, false },
        { CodecId.Ans, KvElementType.Float32, 1, true },
        { CodecId.Ans, KvElementType.Float32, 3, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Every_layer_of_every_chunk_equals_DecodeSection(CodecId codec, KvElementType type, int parallelism, bool inPlace)
    {
        using var store = new PrefetchStore();
        KvLayout layout = PrefetchStore.Layout(type, layers: 4);
        (var keys, byte[][] records) = store.AddChunks(5, codec, layout);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { DecodeParallelism = parallelism, CpuDecodeInPlace = inPlace });
        KvDestination destination = PrefetchStore.Destination(keys.Length, layout);

        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            PrefetchResult result = await request.Completion;
            Assert.All(result.Chunks, s => Assert.Equal(ChunkStatus.Loaded, s));
            Assert.Equal(-1, result.FirstMissingChunk);
            Assert.Equal(keys.Length, result.ReusablePrefixChunks);
            for (int c = 0; c < keys.Length; c++)
            {
                for (int layer = 0; layer < layout.Layers; layer++)
                    PrefetchStore.AssertDelivered(destination, records[c], c, layer);
            }
        }
        store.AssertReleased(prefetcher);
        PrefetcherStatistics statistics = prefetcher.GetStatistics();
        Assert.Equal(2L * layout.Layers * keys.Length, statistics.SectionsDecoded);
        // In place, no section is copied into staging memory; staged, every one is.
        Assert.Equal(inPlace, statistics.StagingAllocatedBytes == 0);
    }

    [Fact]
    public async Task The_rows_past_a_short_last_chunk_are_left_alone()
    {
        using var store = new PrefetchStore();
        (var keys, _) = store.AddChunks(2, CodecId.Raw, lastTokens: 5);
        await using var prefetcher = new Prefetcher(store.Store);
        KvDestination destination = PrefetchStore.Destination(keys.Length);
        destination.Buffer.Span.Fill(float.NaN);
        await using PrefetchRequest request = prefetcher.Start(keys, destination);
        await request.Completion;
        Span<float> tail = destination.Rows(0, SectionKind.Values, PrefetchStore.ChunkTokens + 5, PrefetchStore.ChunkTokens - 5).Span;
        Assert.True(tail.ToArray().All(float.IsNaN));
    }

    [Fact]
    public async Task A_request_for_no_chunks_completes_every_layer_at_once()
    {
        using var store = new PrefetchStore();
        await using var prefetcher = new Prefetcher(store.Store);
        await using PrefetchRequest request = prefetcher.Start([], PrefetchStore.Destination(1));
        PrefetchResult result = await request.Completion;
        Assert.Empty(result.Chunks);
        Assert.Equal(0, (await request.WaitForLayerAsync(2)).PrefixChunks);
    }
}
