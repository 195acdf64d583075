using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Prefetch.Decoding;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>Automatic decode placement: the best GPU when one is present, else the CPU SIMD decoders; never ILGPU's CPU accelerator.</summary>
public sealed class DecoderPlacementTests
{
    [Fact]
    public void Best_is_a_GPU_decoder_or_the_CPU_decoder_and_never_the_ILGPU_CPU_accelerator()
    {
        ISectionDecoder best = SectionDecoders.Best();
        try
        {
            if (SectionDecoders.GpuPresent)
            {
                var accelerated = Assert.IsType<AcceleratorSectionDecoder>(best);
                Assert.False(accelerated.IsCpuAccelerator);
                Assert.Contains(accelerated.Name, new[] { "cuda", "opencl" });
            }
            else
            {
                Assert.Same(CpuSectionDecoder.Instance, best);
                Assert.Equal("cpu-simd", best.Name);
            }
        }
        finally
        {
            (best as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public async Task A_prefetcher_without_a_decoder_places_decoding_itself_and_reports_where()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, byte[][] records) = store.AddChunks(2, CodecId.Q8);
        await using var prefetcher = new Prefetcher(store.Store);
        Assert.Null(prefetcher.Options.Decoder);
        string expected = SectionDecoders.GpuPresent ? prefetcher.Decoder.Name : "cpu-simd";
        if (!SectionDecoders.GpuPresent)
            Assert.Same(CpuSectionDecoder.Instance, prefetcher.Decoder);
        Assert.NotEqual("ilgpu-cpu", prefetcher.Decoder.Name);
        Assert.Equal(expected, prefetcher.GetStatistics().Decoder);

        KvDestination destination = PrefetchStore.Destination(keys.Length);
        await using (PrefetchRequest request = prefetcher.Start(keys, destination))
            await request.Completion;
        PrefetchStore.AssertDelivered(destination, records[1], 1, 2);
        if (!SectionDecoders.GpuPresent)
            Assert.Equal(0, prefetcher.GetStatistics().StagingPageLockedBytes); // The CPU decoder registers nothing.
    }
}
