using ILGPU;
using ILGPU.Runtime;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Prefetch.Decoding;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>A destination in device memory is filled on the device, bit for bit as the host path fills a host buffer.</summary>
[Collection(AcceleratorDecoderCollection.Name)]
public sealed class DeviceDestinationTests(AcceleratorDecoderFixture gpu)
{
    [Theory]
    [InlineData(CodecId.Raw, KvElementType.BFloat16)]
    [InlineData(CodecId.Q8, KvElementType.Float16)]
    [InlineData(CodecId.Ans, KvElementType.Float32)]
    public async Task Every_layer_lands_in_the_device_buffer_as_the_CPU_path_decodes_it(CodecId codec, KvElementType type)
    {
        using var store = new PrefetchStore();
        KvLayout layout = PrefetchStore.Layout(type, layers: 2);
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(3, codec, layout);
        int capacity = keys.Length * PrefetchStore.ChunkTokens;
        using MemoryBuffer1D<float, Stride1D.Dense> buffer = gpu.Decoder.Accelerator.Allocate1D<float>(2L * layout.Layers * capacity * layout.KvDim);
        buffer.MemSetToZero();
        KvDestination destination = KvDestination.OnDevice(buffer, layout.Layers, layout.KvDim, capacity, PrefetchStore.ChunkTokens);

        await using (var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = gpu.Decoder, DecodeParallelism = 2 }))
        {
            await using (PrefetchRequest request = prefetcher.Start(keys, destination))
            {
                PrefetchResult result = await request.Completion;
                Assert.All(result.Chunks, s => Assert.Equal(ChunkStatus.Loaded, s));
                LayerReady layer0 = await request.WaitForLayerAsync(0);
                Assert.Throws<InvalidOperationException>(() => layer0.Keys); // Host views of a device destination do not exist.
            }
            store.AssertReleased(prefetcher);
        }

        gpu.Decoder.Accelerator.Synchronize();
        var host = KvDestination.Allocate(layout.Layers, layout.KvDim, capacity, PrefetchStore.ChunkTokens);
        buffer.View.SubView(0, host.Buffer.Length).CopyToCPU(gpu.Decoder.Accelerator.DefaultStream, host.Buffer.Span);
        gpu.Decoder.Accelerator.Synchronize();
        for (int c = 0; c < keys.Length; c++)
        {
            for (int layer = 0; layer < layout.Layers; layer++)
                PrefetchStore.AssertDelivered(host, records[c], c, layer);
        }
    }

    [Fact]
    public async Task A_device_destination_needs_an_accelerator_decoder_on_its_accelerator()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, _) = store.AddChunks(1, CodecId.Raw);
        KvLayout layout = PrefetchStore.Layout();
        using MemoryBuffer1D<float, Stride1D.Dense> buffer = gpu.Decoder.Accelerator.Allocate1D<float>(2L * layout.Layers * PrefetchStore.ChunkTokens * layout.KvDim);
        KvDestination destination = KvDestination.OnDevice(buffer, layout.Layers, layout.KvDim, PrefetchStore.ChunkTokens, PrefetchStore.ChunkTokens);
        Assert.Throws<InvalidOperationException>(() => destination.Rows(0, SectionKind.Keys, 0, 1));
        Assert.Equal(PrefetchStore.ChunkTokens * layout.KvDim, destination.DeviceSection(1, SectionKind.Values).Length);

        await using var prefetcher = new Prefetcher(store.Store, new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance });
        var error = Assert.Throws<PrefetchException>(() => prefetcher.Start(keys, destination));
        Assert.Equal(PrefetchErrorKind.InvalidDestination, error.Kind);
        Assert.Equal(0, prefetcher.GetStatistics().Requests);

        Assert.Equal(PrefetchErrorKind.InvalidDestination, Assert.Throws<PrefetchException>(() =>
            KvDestination.OnDevice(buffer, layout.Layers + 1, layout.KvDim, PrefetchStore.ChunkTokens, PrefetchStore.ChunkTokens)).Kind);
    }
}
