using KvTier.Format.Codecs;
using KvTier.Keys;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>Bad options and destinations are typed errors naming what is wrong.</summary>
public sealed class OptionsTests
{
    public static TheoryData<string, PrefetcherOptions> BadOptions() => new()
    {
        { nameof(PrefetcherOptions.StagingBudgetBytes), new PrefetcherOptions { StagingBudgetBytes = 0 } },
        { nameof(PrefetcherOptions.StagingBudgetBytes), new PrefetcherOptions { StagingBudgetBytes = -1 } },
        { nameof(PrefetcherOptions.StagingBudgetBytes), new PrefetcherOptions { StagingBudgetBytes = PrefetcherOptions.MaxStagingBudgetBytes + 1 } },
        { nameof(PrefetcherOptions.DecodeParallelism), new PrefetcherOptions { DecodeParallelism = 0 } },
        { nameof(PrefetcherOptions.MaxLayersAhead), new PrefetcherOptions { MaxLayersAhead = 0 } },
        { nameof(PrefetcherOptions.MaxLayersAhead), new PrefetcherOptions { MaxLayersAhead = 1025 } },
        { nameof(PrefetcherOptions.DecodeParallelism), new PrefetcherOptions { DecodeParallelism = PrefetcherOptions.MaxDecodeParallelism + 1 } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Bad_options_are_rejected_naming_the_option(string option, PrefetcherOptions options)
    {
        using var store = new PrefetchStore();
        var error = Assert.Throws<PrefetchException>(() => new Prefetcher(store.Store, options));
        Assert.Equal(PrefetchErrorKind.InvalidOptions, error.Kind);
        Assert.Contains($"{nameof(PrefetcherOptions)}.{option}", error.Message);
    }

    [Fact]
    public void Defaults_are_valid_and_documented_values()
    {
        var options = new PrefetcherOptions();
        Assert.Equal(64L << 20, options.StagingBudgetBytes);
        Assert.Equal(Environment.ProcessorCount, options.DecodeParallelism);
        Assert.False(options.SkipChunksAfterMissing);
        Assert.Null(options.Decoder); // Automatic placement (DecoderPlacementTests).
    }

    [Fact]
    public void Bad_destinations_are_rejected()
    {
        Assert.Equal(PrefetchErrorKind.InvalidDestination, Assert.Throws<PrefetchException>(() => new KvDestination(new float[10], 1, 4, 2, 2)).Kind);
        Assert.Equal(PrefetchErrorKind.InvalidDestination, Assert.Throws<PrefetchException>(() => new KvDestination(new float[100], 0, 4, 2, 2)).Kind);
        Assert.Equal(PrefetchErrorKind.InvalidDestination, Assert.Throws<PrefetchException>(() => KvDestination.Allocate(1024, 65536, 1 << 20, 256)).Kind);
    }

    [Fact]
    public async Task More_chunks_than_the_destination_has_rows_for_are_rejected_at_start()
    {
        using var store = new PrefetchStore();
        (ChunkKey[] keys, _) = store.AddChunks(3, CodecId.Raw);
        await using var prefetcher = new Prefetcher(store.Store);
        var error = Assert.Throws<PrefetchException>(() => prefetcher.Start(keys, PrefetchStore.Destination(2)));
        Assert.Equal(PrefetchErrorKind.InvalidDestination, error.Kind);
        store.AssertReleased(prefetcher);
    }
}
