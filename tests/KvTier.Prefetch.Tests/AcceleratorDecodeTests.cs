using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Prefetch.Decoding;
using KvTier.Prefetch.Staging;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>
/// The prefetcher with an <see cref="AcceleratorSectionDecoder"/> (over ILGPU's CPU accelerator here) delivers what the
/// CPU path delivers, bit for bit, and still releases everything on corruption and cancellation.
/// </summary>
[Collection(AcceleratorDecoderCollection.Name)]
public sealed class AcceleratorDecodeTests(AcceleratorDecoderFixture gpu)
{
    public static TheoryData<CodecId, KvElementType, int> Cases() => new()
    {
        { CodecId.Raw, KvElementType.Float16, 3 },
        { CodecId.Raw, KvElementType.Float32, 1 },
        { CodecId.Q8, KvElementType.BFloat16, 3 },
        { CodecId.Q8, KvElementType.Float32, 2 },
        { CodecId.Ans, KvElementType.Float16, 3 },
        { CodecId.Ans, KvElementType.BFloat16, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Every_layer_equals_the_CPU_path_bit_for_bit(CodecId codec, KvElementType type, int parallelism)
    {
        using var store = new PrefetchStore();
        KvLayout layout = PrefetchStore.Layout(type, layers: 2);
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(3, codec, layout);
        KvDestination onDevice = PrefetchStore.Destination(keys.Length, layout);
        KvDestination onCpu = PrefetchStore.Destination(keys.Length, layout);
        onDevice.Buffer.Span.Fill(float.NaN); // Rows no chunk fills (past the short last chunk) stay NaN in both.
        onCpu.Buffer.Span.Fill(float.NaN);

        await using (var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = gpu.Decoder, DecodeParallelism = parallelism }))
        {
            Assert.Same(gpu.Decoder, prefetcher.Decoder);
            Assert.Equal("ilgpu-cpu", prefetcher.GetStatistics().Decoder);
            await using (PrefetchRequest request = prefetcher.Start(keys, onDevice))
            {
                PrefetchResult result = await request.Completion;
                Assert.All(result.Chunks, s => Assert.Equal(ChunkStatus.Loaded, s));
                for (int c = 0; c < keys.Length; c++)
                {
                    for (int layer = 0; layer < layout.Layers; layer++)
                        PrefetchStore.AssertDelivered(onDevice, records[c], c, layer);
                }
            }
            store.AssertReleased(prefetcher);
            Assert.Equal(2L * layout.Layers * keys.Length, prefetcher.GetStatistics().SectionsDecoded);
            // CpuDecodeInPlace is on by default, but a device decoder always decodes from staged copies.
            Assert.True(prefetcher.GetStatistics().StagingAllocatedBytes > 0);
        }

        await using (var cpu = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance }))
        await using (PrefetchRequest request = cpu.Start(keys, onCpu))
            await request.Completion;
        Assert.Equal(
            onCpu.Buffer.ToArray().Select(BitConverter.SingleToUInt32Bits),
            onDevice.Buffer.ToArray().Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public async Task A_corrupt_section_costs_its_chunk_and_the_others_arrive()
    {
        using var store = new PrefetchStore(verifyOnPut: false);
        KvLayout layout = PrefetchStore.Layout(KvElementType.Float16, layers: 2);
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(3, CodecId.Ans, layout, tamper: (c, r) => c == 1 ? FlipSectionByte(r, 1, SectionKind.Keys) : r);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = gpu.Decoder, DecodeParallelism = 2 });
        KvDestination destination = PrefetchStore.Destination(keys.Length, layout);

        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
        {
            PrefetchResult result = await request.Completion;
            Assert.Equal([ChunkStatus.Loaded, ChunkStatus.Corrupt, ChunkStatus.Loaded], result.Chunks);
            foreach (int c in new[] { 0, 2 })
            {
                for (int layer = 0; layer < layout.Layers; layer++)
                    PrefetchStore.AssertDelivered(destination, records[c], c, layer);
            }
        }
        store.AssertReleased(prefetcher);
        Assert.Equal(1, prefetcher.GetStatistics().CorruptChunks);
    }

    [Fact]
    public async Task Cancelling_midway_releases_every_lease_block_and_registration()
    {
        using var store = new PrefetchStore();
        KvLayout layout = PrefetchStore.Layout(KvElementType.Float16, layers: 4);
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(3, CodecId.Q8, layout);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // never released
        var decoder = new HeldDecoder(gpu.Decoder, (chunk, layer, ct) => layer >= 2 ? hold.Task.WaitAsync(ct) : Task.CompletedTask);
        var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = decoder, DecodeParallelism = 2, StagingBudgetBytes = 1 << 20 });
        KvDestination destination = PrefetchStore.Destination(keys.Length, layout);
        PrefetchRequest request = prefetcher.Start(keys, destination);

        await request.WaitForLayerAsync(1);
        PrefetchStore.AssertDelivered(destination, records[2], 2, 1);
        Assert.True(prefetcher.GetStatistics().StagingRentedBytes > 0);
        ValueTask<LayerReady> layer3 = request.WaitForLayerAsync(3);
        request.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await layer3);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.Completion);
        await request.DisposeAsync();
        store.AssertReleased(prefetcher);

        await prefetcher.DisposeAsync();
        PrefetcherStatistics after = prefetcher.GetStatistics();
        Assert.Equal(0, after.StagingAllocatedBytes);
        Assert.Equal(0, after.StagingPageLockedBytes);
        Assert.False(gpu.Decoder.Accelerator.IsDisposed); // A decoder the caller passed in stays the caller's.
    }

    [Fact]
    public async Task A_decode_cancelled_before_it_reaches_the_device_throws_and_writes_nothing()
    {
        KvLayout layout = PrefetchStore.Layout(KvElementType.Float32, layers: 1);
        var fingerprint = ModelFingerprint.Compute("kvtier-prefetch-test", layout);
        byte[] bytes = PrefetchStore.Encode(layout, fingerprint, new ChunkKeys(fingerprint, "", PrefetchStore.ChunkTokens).PrefixKeys(new int[4])[0], 4, 7, CodecId.Raw, null, 0);
        ChunkRecord record = ChunkRecord.Parse(bytes);
        using var pool = new StagingPool(1 << 20);
        StagingBuffer buffer = await pool.RentAsync(1, CancellationToken.None);
        try
        {
            var section = new StagedSection(buffer, record, 0, 0, SectionKind.Keys);
            var destination = new float[section.ElementCount];
            destination.AsSpan().Fill(float.NaN);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await gpu.Decoder.DecodeAsync(section, destination, new CancellationToken(canceled: true)));
            Assert.All(destination, v => Assert.True(float.IsNaN(v)));
        }
        finally
        {
            pool.Return(buffer);
        }
    }

    [Fact]
    public async Task Staging_blocks_are_registered_with_the_decoders_device_while_they_live()
    {
        using var store = new PrefetchStore();
        KvLayout layout = PrefetchStore.Layout(KvElementType.Float16, layers: 1);
        (ChunkKey[] keys, _) = store.AddChunks(2, CodecId.Raw, layout);
        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = gpu.Decoder });
        await using (PrefetchRequest request = prefetcher.Start(keys, PrefetchStore.Destination(keys.Length, layout)))
            await request.Completion;
        PrefetcherStatistics s = prefetcher.GetStatistics();
        Assert.True(s.StagingAllocatedBytes > 0);
        // ILGPU's CPU accelerator accepts registrations (as a no-op scope), as CUDA does; so every cached block is registered.
        Assert.True(gpu.Decoder.PageLockingSupported);
        Assert.Equal(s.StagingAllocatedBytes, s.StagingPageLockedBytes);
    }

    private static byte[] FlipSectionByte(byte[] record, int layer, SectionKind kind)
    {
        SectionEntry section = ChunkRecord.Parse(record).Sections[2 * layer + (int)kind];
        byte[] copy = (byte[])record.Clone();
        copy[section.Offset + section.Length / 2] ^= 0x04;
        return copy;
    }
}
