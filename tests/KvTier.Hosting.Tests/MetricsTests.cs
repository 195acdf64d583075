using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Prefetch.Decoding;
using KvTier.Storage;
using KvTier.Testing.Records;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using System.Diagnostics.Metrics;
using Xunit;

namespace KvTier.Hosting.Tests;

/// <summary>The KvTier meter publishes the store's and the prefetcher's counters, and latency of measured prefetches.</summary>
public sealed class MetricsTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ServiceProvider _provider;

    public MetricsTests()
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddSingleton<LogSink>();
        services.AddSingleton(typeof(ILogger<>), typeof(CapturingLogger<>));
        services.AddKvTier(o =>
        {
            o.Store = o.Store with { Directory = _temp.Sub("store"), MemoryCapacityBytes = 4 << 20, SegmentSizeBytes = 1 << 20 };
            o.Prefetcher = new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance, StagingBudgetBytes = 1 << 20, DecodeParallelism = 1 };
        });
        _provider = services.BuildServiceProvider();
    }

    public void Dispose()
    {
        _provider.Dispose();
        _temp.Dispose();
    }

    private MetricCollector<T> Collect<T>(string instrument) where T : struct =>
        new(_provider.GetRequiredService<IMeterFactory>(), KvTierInstruments.MeterName, instrument);

    /// <summary>The latest value of an observable instrument, per kvtier.tier tag ("" for none).</summary>
    private static Dictionary<string, long> Observe(MetricCollector<long> collector)
    {
        collector.Clear();
        collector.RecordObservableInstruments();
        var values = new Dictionary<string, long>();
        foreach (CollectedMeasurement<long> m in collector.GetMeasurementSnapshot())
            values[m.Tags.TryGetValue(KvTierInstruments.TierTag, out object? tier) ? (string)tier! : ""] = m.Value;
        return values;
    }

    [Fact]
    public void Hits_misses_lookups_and_bytes_follow_puts_and_gets_per_tier()
    {
        using MetricCollector<long> hits = Collect<long>(KvTierInstruments.StoreHits);
        using MetricCollector<long> misses = Collect<long>(KvTierInstruments.StoreMisses);
        using MetricCollector<long> lookups = Collect<long>(KvTierInstruments.StoreLookups);
        using MetricCollector<long> puts = Collect<long>(KvTierInstruments.StorePuts);
        using MetricCollector<long> written = Collect<long>(KvTierInstruments.StoreBytesWritten);
        using MetricCollector<long> entries = Collect<long>(KvTierInstruments.StoreEntries);
        using MetricCollector<long> read = Collect<long>(KvTierInstruments.StoreBytesRead);

        Assert.Empty(Observe(hits)); // No store opened yet: nothing is published, and nothing opens it.
        KvStore store = _provider.GetRequiredService<KvStore>();
        Assert.Equal(0, Observe(hits)["memory"]);

        ChunkKey[] keys = [TestRecords.Key(1), TestRecords.Key(2)];
        foreach (ChunkKey key in keys)
            store.Put(TestRecords.Create(key));
        Assert.Equal(2, Observe(puts)[""]);
        Assert.Equal(2, Observe(entries)[""]);
        Assert.True(Observe(written)["disk"] >= 2 * 4096);

        for (int i = 0; i < 3; i++)
        {
            Assert.True(store.TryGet(keys[0], out RecordLease? lease));
            lease.Dispose();
        }
        Assert.False(store.TryGet(TestRecords.Key(99), out _));
        Assert.False(store.TryGet(TestRecords.Key(98), out _));

        StoreStatistics s = store.GetStatistics();
        Dictionary<string, long> hit = Observe(hits);
        Assert.Equal(s.MemoryHits, hit["memory"]);
        Assert.Equal(s.DiskHits, hit["disk"]);
        Assert.Equal(3, hit["memory"] + hit["disk"]);
        Assert.Equal(0, hit["remote"]);
        Dictionary<string, long> miss = Observe(misses);
        Assert.Equal(2, miss["disk"]);
        Assert.Equal(s.DiskHits + 2, miss["memory"]);
        Assert.Equal(5, Observe(lookups)[""]);
        // Every hit served the whole record from its tier; misses read nothing.
        long recordBytes = TestRecords.Create(keys[0]).Length;
        Dictionary<string, long> bytes = Observe(read);
        Assert.Equal(hit["memory"] * recordBytes, bytes["memory"]);
        Assert.Equal(hit["disk"] * recordBytes, bytes["disk"]);
        Assert.Equal(0, bytes["remote"]);
    }

    [Fact]
    public async Task Every_request_of_the_registered_prefetcher_records_latency_overlap_and_chunks_loaded()
    {
        using MetricCollector<double> duration = Collect<double>(KvTierInstruments.PrefetchLoadDuration);
        using MetricCollector<double> firstLayer = Collect<double>(KvTierInstruments.PrefetchFirstLayerDuration);
        using MetricCollector<double> overlap = Collect<double>(KvTierInstruments.PrefetchOverlap);
        using MetricCollector<long> loaded = Collect<long>(KvTierInstruments.PrefetchChunksLoaded);
        using MetricCollector<long> requests = Collect<long>(KvTierInstruments.PrefetchRequests);

        KvStore store = _provider.GetRequiredService<KvStore>();
        Prefetcher prefetcher = _provider.GetRequiredService<Prefetcher>();
        const int tokens = 4;
        ChunkKey[] keys = [TestRecords.Key(10), TestRecords.Key(11), TestRecords.Key(12)];
        store.Put(TestRecords.Create(keys[0], tokens));
        store.Put(TestRecords.Create(keys[1], tokens));
        // keys[2] is not stored: the request ends partial.

        KvDestination destination = KvDestination.Allocate(TestRecords.SmallLayout.Layers, TestRecords.SmallLayout.KvDim, keys.Length * tokens, tokens);
        await using (PrefetchRequest request = prefetcher.Start(keys, destination)) // a plain start, as the LLamaSharp connector's
        {
            PrefetchResult result = await request.Completion;
            Assert.Equal(2, result.FirstMissingChunk);
        }

        await duration.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(10));
        CollectedMeasurement<double> load = Assert.Single(duration.GetMeasurementSnapshot());
        Assert.Equal("partial", load.Tags[KvTierInstruments.OutcomeTag]);
        Assert.True(load.Value > 0);
        CollectedMeasurement<double> first = Assert.Single(firstLayer.GetMeasurementSnapshot());
        Assert.InRange(first.Value, 0, load.Value);
        Assert.InRange(Assert.Single(overlap.GetMeasurementSnapshot()).Value, 0, 1);
        Assert.Equal(2, Assert.Single(loaded.GetMeasurementSnapshot()).Value);
        Assert.Equal(1, Observe(requests)[""]);
    }

    [Fact]
    public async Task Observing_another_prefetcher_moves_the_measurement_to_it_and_Track_measures_a_single_request()
    {
        using MetricCollector<double> duration = Collect<double>(KvTierInstruments.PrefetchLoadDuration);
        KvStore store = _provider.GetRequiredService<KvStore>();
        Prefetcher registered = _provider.GetRequiredService<Prefetcher>();
        KvTierMetrics metrics = _provider.GetRequiredService<KvTierMetrics>();
        ChunkKey[] keys = [TestRecords.Key(20)];
        store.Put(TestRecords.Create(keys[0], 4));
        await using var other = new Prefetcher(store, new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance, StagingBudgetBytes = 1 << 20 });
        metrics.Observe(other);

        await LoadAsync(registered); // no longer observed: not measured
        await LoadAsync(other);
        await duration.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(10));
        await using (PrefetchRequest request = registered.Start(keys, Destination()))
        {
            metrics.Track(request);
            await request.Completion;
        }
        await duration.WaitForMeasurementsAsync(2, TimeSpan.FromSeconds(10));
        await LoadAsync(other);
        await duration.WaitForMeasurementsAsync(3, TimeSpan.FromSeconds(10));

        Assert.Equal(3, duration.GetMeasurementSnapshot().Count);
        Assert.All(duration.GetMeasurementSnapshot(), m => Assert.Equal("complete", m.Tags[KvTierInstruments.OutcomeTag]));

        metrics.Dispose(); // unsubscribes: later requests are not measured
        await LoadAsync(other);
        await LoadAsync(registered);
        Assert.Equal(3, duration.GetMeasurementSnapshot().Count);

        async Task LoadAsync(Prefetcher prefetcher)
        {
            await using PrefetchRequest request = prefetcher.Start(keys, Destination());
            Assert.Equal(-1, (await request.Completion).FirstMissingChunk);
        }

        static KvDestination Destination() => KvDestination.Allocate(TestRecords.SmallLayout.Layers, TestRecords.SmallLayout.KvDim, 4, 4);
    }

    [Fact]
    public void Opening_and_closing_the_store_is_logged()
    {
        LogSink sink = _provider.GetRequiredService<LogSink>();
        _provider.GetRequiredService<KvStore>();
        Assert.True(sink.Has(1));
        Assert.False(sink.Has(2));
        _provider.Dispose();
        Assert.True(sink.Has(2));
    }
}
