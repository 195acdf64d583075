using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>
/// A chunk whose section fails its checksum, or that the store lacks, is reported missing for the request (the store
/// counts the corruption); the other chunks still arrive; nothing is left leased or rented.
/// </summary>
public sealed class CorruptChunkTests
{
    private static byte[] FlipSectionByte(byte[] record, int layer, SectionKind kind)
    {
        SectionEntry section = ChunkRecord.Parse(record).Sections[2 * layer + (int)kind];
        byte[] copy = (byte[])record.Clone();
        copy[section.Offset + section.Length / 2] ^= 0x04;
        return copy;
    }

    [Theory]
    [InlineData(CodecId.Raw)]
    [InlineData(CodecId.Ans)]
    public async Task A_section_with_a_bad_checksum_makes_its_chunk_missing_and_the_others_arrive(CodecId codec)
    {
        using var store = new PrefetchStore(verifyOnPut: false);
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(4, codec, tamper: (c, r) => c == 1 ? FlipSectionByte(r, 1, SectionKind.Values) : r);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { DecodeParallelism = 2 });
        KvDestination destination = PrefetchStore.Destination(keys.Length);

        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            LayerReady layer0 = await request.WaitForLayerAsync(0);
            Assert.True(layer0.PrefixChunks is 1 or 4, $"layer 0 reported {layer0.PrefixChunks} leading chunks");
            PrefetchResult result = await request.Completion;
            Assert.Equal([ChunkStatus.Loaded, ChunkStatus.Corrupt, ChunkStatus.Loaded, ChunkStatus.Loaded], result.Chunks);
            Assert.Equal(1, result.FirstMissingChunk);
            Assert.Equal(1, result.ReusablePrefixChunks);
            Assert.Equal([1], result.MissingChunks);
            Assert.Equal(1, request.FirstMissingChunk);
            Assert.Equal(1, (await request.WaitForLayerAsync(2)).PrefixChunks);
            foreach (int c in new[] { 0, 2, 3 })
            {
                for (int layer = 0; layer < 3; layer++)
                    PrefetchStore.AssertDelivered(destination, records[c], c, layer);
            }
        }
        store.AssertReleased(prefetcher);
        Assert.Equal(1, store.Store.GetStatistics().CorruptionEvents);
        Assert.Equal(1, prefetcher.GetStatistics().CorruptChunks);
        store.Store.Flush(); // The store drops a corrupt record on its writer thread.
        Assert.False(store.Store.Contains(keys[1]));
    }

    [Fact]
    public async Task A_byte_flipped_in_the_segment_file_is_caught_when_its_section_is_read()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(3, CodecId.Q8);
        store.FlipPayloadByte(records[2], 2, SectionKind.Keys);
        await using var prefetcher = new Prefetcher(store.Store);
        KvDestination destination = PrefetchStore.Destination(keys.Length);

        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            PrefetchResult result = await request.Completion;
            Assert.Equal([ChunkStatus.Loaded, ChunkStatus.Loaded, ChunkStatus.Corrupt], result.Chunks);
            Assert.Equal(2, result.ReusablePrefixChunks);
            for (int c = 0; c < 2; c++)
            {
                for (int layer = 0; layer < 3; layer++)
                    PrefetchStore.AssertDelivered(destination, records[c], c, layer);
            }
        }
        store.AssertReleased(prefetcher);
        Assert.Equal(1, store.Store.GetStatistics().CorruptionEvents);
    }

    [Fact]
    public async Task A_chunk_the_store_lacks_is_reported_at_once_and_the_others_arrive()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(4, CodecId.Raw, tamper: (c, r) => c == 2 ? null : r);
        await using var prefetcher = new Prefetcher(store.Store);
        KvDestination destination = PrefetchStore.Destination(keys.Length);

        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            Assert.Equal(2, (await request.WaitForLayerAsync(0)).PrefixChunks);
            Assert.Equal(2, request.FirstMissingChunk);
            PrefetchResult result = await request.Completion;
            Assert.Equal([ChunkStatus.Loaded, ChunkStatus.Loaded, ChunkStatus.NotFound, ChunkStatus.Loaded], result.Chunks);
            Assert.Equal(2, store.Store.LongestPrefix(keys));
            PrefetchStore.AssertDelivered(destination, records[3], 3, 2);
        }
        store.AssertReleased(prefetcher);
        Assert.Equal(0, store.Store.GetStatistics().CorruptionEvents);
    }

    [Fact]
    public async Task With_SkipChunksAfterMissing_nothing_after_the_first_missing_chunk_is_loaded()
    {
        using var store = new PrefetchStore(verifyOnPut: false);
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(5, CodecId.Raw, tamper: (c, r) => c switch
        {
            1 => FlipSectionByte(r, 0, SectionKind.Keys),
            3 => null,
            _ => r,
        });
        var decoder = new TestDecoder();
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { SkipChunksAfterMissing = true, Decoder = decoder });
        KvDestination destination = PrefetchStore.Destination(keys.Length);

        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            PrefetchResult result = await request.Completion;
            // Chunk 3 is found missing at lookup (before chunk 1's bad section), so chunk 4 is skipped from the start.
            Assert.Equal(ChunkStatus.Loaded, result.Chunks[0]);
            Assert.Equal(ChunkStatus.Corrupt, result.Chunks[1]);
            Assert.Equal(ChunkStatus.Skipped, result.Chunks[2]);
            Assert.Equal(ChunkStatus.Skipped, result.Chunks[4]);
            Assert.Equal(1, result.FirstMissingChunk);
            Assert.Equal(1, result.ReusablePrefixChunks);
            for (int layer = 0; layer < 3; layer++)
                PrefetchStore.AssertDelivered(destination, records[0], 0, layer);
        }
        store.AssertReleased(prefetcher);
        Assert.True(decoder.Calls <= 2 * 3 + 2, $"{decoder.Calls} sections decoded; only chunk 0's (and at most layer 0 of chunk 2) were needed");
    }

    [Fact]
    public async Task A_record_of_another_shape_is_a_mismatch()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, _) = store.AddChunks(2, CodecId.Raw, PrefetchStore.Layout(layers: 2));
        await using var prefetcher = new Prefetcher(store.Store);
        await using (PrefetchRequest request = prefetcher.Start(keys, PrefetchStore.Destination(2))) // 3 layers
        {
            PrefetchResult result = await request.Completion;
            Assert.Equal([ChunkStatus.Mismatch, ChunkStatus.Mismatch], result.Chunks);
            Assert.Equal(0, result.ReusablePrefixChunks);
        }
        store.AssertReleased(prefetcher);
    }
}
