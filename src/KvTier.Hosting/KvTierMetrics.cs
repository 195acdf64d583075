using System.Diagnostics;
using System.Diagnostics.Metrics;
using KvTier.Prefetch;
using KvTier.Redis;
using KvTier.Remote;
using KvTier.Storage;
using KvTier.Storage.Remote;
using static KvTier.Hosting.KvTierInstruments;

namespace KvTier.Hosting;

/// <summary>
/// The <c>KvTier</c> meter (<see cref="KvTierInstruments"/>): observable instruments that read the components'
/// <c>GetStatistics()</c> snapshots when a listener collects (nothing is added to the hot paths), plus a latency
/// histogram and an overlap histogram fed by measured prefetch requests
/// (every request of the observed <see cref="Prefetcher"/>, whoever starts it, or one passed to <see cref="Track"/>).
/// </summary>
/// <remarks>
/// Concurrency: every member may be called from any thread. The observed components are held in volatile fields,
/// replaced whole; a collection reads whichever is there. <c>_observeLock</c> orders subscribing to and unsubscribing
/// from the observed prefetcher. The counters count what the component has counted since it was opened or created.
/// </remarks>
public sealed class KvTierMetrics : IDisposable
{
    private static readonly KeyValuePair<string, object?> Memory = new(TierTag, "memory");
    private static readonly KeyValuePair<string, object?> Disk = new(TierTag, "disk");
    private static readonly KeyValuePair<string, object?> Remote = new(TierTag, "remote");
    private static readonly KeyValuePair<string, object?> Local = new(TierTag, "local");

    private readonly bool _ownsMeter;
    private readonly Counter<long> _chunksLoaded;
    private readonly Histogram<double> _loadDuration;
    private readonly Histogram<double> _firstLayerDuration;
    private readonly Histogram<double> _overlap;
    private volatile KvStore? _store;
    private volatile Prefetcher? _prefetcher;
    private readonly object _observeLock = new();
    private Prefetcher? _observedPrefetcher; // under _observeLock: the one whose RequestStarted this object handles
    private volatile IRemoteTier? _remote;

    /// <summary>Creates the meter through <paramref name="meterFactory"/> when given (DI's), else a meter of its own that <see cref="Dispose"/> disposes.</summary>
    /// <param name="meterFactory">The host's meter factory, or null.</param>
    public KvTierMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        Meter = meterFactory?.Create(new MeterOptions(MeterName)) ?? new Meter(MeterName);

        Meter.CreateObservableCounter(StoreLookups, () => FromStore(s => s.Gets), "{lookup}", "Local gets: memory hits + disk hits + misses.");
        Meter.CreateObservableCounter(StoreHits, StoreHitMeasurements, "{hit}", "Gets served, per tier (memory, disk, remote).");
        Meter.CreateObservableCounter(StoreMisses, StoreMissMeasurements, "{miss}", "Gets that reached a tier and that it could not serve, per tier (memory, disk, remote).");
        Meter.CreateObservableCounter(StorePuts, () => FromStore(s => s.Puts), "{record}", "Records stored by puts.");
        Meter.CreateObservableCounter(StoreDeletes, () => FromStore(s => s.Deletes), "{record}", "Records deleted.");
        Meter.CreateObservableCounter(StoreBytesWritten, BytesWrittenMeasurements, "By", "Bytes written per tier (disk: segment frames; remote: Redis record bytes).");
        Meter.CreateObservableCounter(StoreBytesRead, BytesReadMeasurements, "By", "Bytes of the records each tier served (memory, disk, remote).");
        Meter.CreateObservableCounter(StoreEvictions, EvictionMeasurements, "{record}", "Records evicted for capacity, per tier (memory, disk).");
        Meter.CreateObservableCounter(StoreCorruptionEvents, CorruptionMeasurements, "{record}", "Records found corrupt and dropped (a miss, never data), per tier (local, remote).");
        Meter.CreateObservableUpDownCounter(StoreEntries, () => FromStore(s => s.Entries), "{record}", "Records stored now.");
        Meter.CreateObservableUpDownCounter(StoreLiveBytes, () => FromStore(s => s.LiveBytes), "By", "Frame bytes of the records stored now.");
        Meter.CreateObservableUpDownCounter(StoreDeadBytes, () => FromStore(s => s.DeadBytes), "By", "Segment bytes awaiting compaction.");
        Meter.CreateObservableUpDownCounter(StoreSegments, () => FromStore(s => s.Segments), "{segment}", "Segment files.");
        Meter.CreateObservableUpDownCounter(StoreMemoryBytes, () => FromStore(s => s.MemoryBytes), "By", "Native memory the memory tier owns.");

        Meter.CreateObservableCounter(RemoteHits, () => FromStore(s => s.RemoteHits), "{hit}", "Local misses the remote tier served.");
        Meter.CreateObservableCounter(RemoteMisses, () => FromStore(s => s.RemoteMisses), "{miss}", "Local misses the remote tier could not serve.");
        Meter.CreateObservableCounter(RemoteWrites, () => FromStore(s => s.RemoteWrites), "{record}", "Records written behind to the remote tier and acknowledged.");
        Meter.CreateObservableCounter(RemoteWritesDropped, () => FromStore(s => s.RemoteWritesDropped), "{record}", "Records not written behind (queue full, remote down or refusing).");
        Meter.CreateObservableUpDownCounter(RemoteWritesQueued, () => FromStore(s => s.RemoteWritesQueued), "{record}", "Records waiting to be written behind.");
        Meter.CreateObservableCounter(RemoteFailures, RemoteFailureMeasurements, "{call}", "Remote tier calls that failed, timed out or were refused by the open circuit.");
        Meter.CreateObservableUpDownCounter(RemoteCircuitOpen, CircuitMeasurements, "{circuit}", "1 while the remote tier's circuit breaker is open or half-open.");

        Meter.CreateObservableCounter(PrefetchRequests, () => FromPrefetcher(p => p.Requests), "{request}", "Prefetch requests started.");
        Meter.CreateObservableUpDownCounter(PrefetchActiveRequests, () => FromPrefetcher(p => p.ActiveRequests), "{request}", "Prefetch requests running.");
        Meter.CreateObservableCounter(PrefetchSectionsDecoded, () => FromPrefetcher(p => p.SectionsDecoded), "{section}", "Sections decoded into a destination.");
        Meter.CreateObservableCounter(PrefetchCorruptChunks, () => FromPrefetcher(p => p.CorruptChunks), "{chunk}", "Chunks reported corrupt to a request.");
        Meter.CreateObservableCounter(PrefetchBackpressureWaits, () => FromPrefetcher(p => p.BackpressureWaits), "{wait}", "Times a reader waited for staging memory.");
        Meter.CreateObservableUpDownCounter(PrefetchStagingBytes, () => FromPrefetcher(p => p.StagingRentedBytes), "By", "Staging bytes rented out.");
        Meter.CreateObservableUpDownCounter(PrefetchStagingAllocatedBytes, () => FromPrefetcher(p => p.StagingAllocatedBytes), "By", "Pinned staging bytes allocated (rented plus cached).");

        _chunksLoaded = Meter.CreateCounter<long>(PrefetchChunksLoaded, "{chunk}", "Chunks loaded into a destination by measured prefetch requests.");
        _loadDuration = Meter.CreateHistogram<double>(PrefetchLoadDuration, "s", "Time from a measured prefetch request's start to its completion, per outcome.");
        _firstLayerDuration = Meter.CreateHistogram<double>(PrefetchFirstLayerDuration, "s", "Time from a measured prefetch request's start until layer 0 was ready.");
        _overlap = Meter.CreateHistogram<double>(PrefetchOverlap, "1", "(load − first layer) ÷ load of a measured prefetch request: the part of loading the engine can overlap with computing.");
    }

    /// <summary>The <c>KvTier</c> meter.</summary>
    public Meter Meter { get; }

    /// <summary>Publishes <paramref name="store"/>'s statistics (replacing any store observed before).</summary>
    public void Observe(KvStore store) => _store = store ?? throw new ArgumentNullException(nameof(store));

    /// <summary>
    /// Publishes <paramref name="prefetcher"/>'s statistics and records the latency of every request it starts from now
    /// on (<see cref="Prefetcher.RequestStarted"/>), replacing any prefetcher observed before.
    /// </summary>
    public void Observe(Prefetcher prefetcher)
    {
        ArgumentNullException.ThrowIfNull(prefetcher);
        lock (_observeLock)
        {
            Prefetcher? previous = _observedPrefetcher;
            if (ReferenceEquals(previous, prefetcher))
                return;
            if (previous is not null)
                previous.RequestStarted -= OnRequestStarted;
            prefetcher.RequestStarted += OnRequestStarted;
            _observedPrefetcher = prefetcher;
            _prefetcher = prefetcher;
        }
    }

    private void OnRequestStarted(PrefetchRequest request) => _ = TrackAsync(request, request.StartTimestamp);

    /// <summary>Publishes the statistics of <paramref name="tier"/> (a <see cref="RemoteTier"/> or a <see cref="RedisTier"/>; others publish nothing).</summary>
    public void Observe(IRemoteTier tier) => _remote = tier ?? throw new ArgumentNullException(nameof(tier));

    /// <summary>
    /// Records the load latency, first-layer latency, overlap and loaded chunks of <paramref name="request"/> when it
    /// ends: for a request of a prefetcher this object does not observe (those of the observed one are recorded already).
    /// Runs off the request's path: it only awaits the request's layer 0 and completion tasks.
    /// </summary>
    /// <param name="request">A request just started; its latency counts from <see cref="PrefetchRequest.StartTimestamp"/>.</param>
    public void Track(PrefetchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        _ = TrackAsync(request, request.StartTimestamp);
    }

    private async Task TrackAsync(PrefetchRequest request, long start)
    {
        double? firstLayer = null;
        string outcome;
        try
        {
            if (request.LayerCount > 0)
            {
                await request.WaitForLayerAsync(0).ConfigureAwait(false);
                firstLayer = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or PrefetchException or ObjectDisposedException)
        {
            // The completion below says how the request ended.
        }
        try
        {
            PrefetchResult result = await request.Completion.ConfigureAwait(false);
            outcome = result.FirstMissingChunk < 0 ? "complete" : "partial";
            int loaded = 0;
            foreach (ChunkStatus status in result.Chunks)
            {
                if (status == ChunkStatus.Loaded)
                    loaded++;
            }
            _chunksLoaded.Add(loaded);
        }
        catch (OperationCanceledException)
        {
            outcome = "canceled";
        }
        catch (Exception e) when (e is PrefetchException or KvStoreException or ObjectDisposedException or IOException)
        {
            outcome = "failed";
        }
        double total = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (firstLayer is { } first)
        {
            _firstLayerDuration.Record(first);
            if (total > 0)
                _overlap.Record(Math.Clamp((total - first) / total, 0, 1));
        }
        // Last, so that a listener that has seen the load duration has seen everything else about the request.
        _loadDuration.Record(total, new KeyValuePair<string, object?>(OutcomeTag, outcome));
    }

    /// <summary>Disposes the meter when this object created it (one from a meter factory belongs to the factory).</summary>
    public void Dispose()
    {
        lock (_observeLock)
        {
            if (_observedPrefetcher is { } prefetcher)
                prefetcher.RequestStarted -= OnRequestStarted;
            _observedPrefetcher = null;
        }
        if (_ownsMeter)
            Meter.Dispose();
    }

    private IEnumerable<Measurement<long>> FromStore(Func<StoreStatistics, long> read) =>
        _store is { } store && TryStatistics(store) is { } s ? [new Measurement<long>(read(s))] : [];

    private IEnumerable<Measurement<long>> FromPrefetcher(Func<PrefetcherStatistics, long> read) =>
        _prefetcher is { } prefetcher ? [new Measurement<long>(read(prefetcher.GetStatistics()))] : [];

    private static StoreStatistics? TryStatistics(KvStore store)
    {
        try
        {
            return store.GetStatistics();
        }
        catch (ObjectDisposedException)
        {
            return null; // Collected while the container shuts down.
        }
    }

    private IEnumerable<Measurement<long>> StoreHitMeasurements()
    {
        if (_store is not { } store || TryStatistics(store) is not { } s)
            return [];
        return [new(s.MemoryHits, Memory), new(s.DiskHits, Disk), new(s.RemoteHits, Remote)];
    }

    private IEnumerable<Measurement<long>> StoreMissMeasurements()
    {
        if (_store is not { } store || TryStatistics(store) is not { } s)
            return [];
        var measurements = new List<Measurement<long>>(3);
        if (store.Options.MemoryCapacityBytes > 0)
            measurements.Add(new(s.DiskHits + s.Misses, Memory));
        measurements.Add(new(s.Misses, Disk));
        measurements.Add(new(s.RemoteMisses, Remote));
        return measurements;
    }

    private IEnumerable<Measurement<long>> BytesWrittenMeasurements()
    {
        var measurements = new List<Measurement<long>>(2);
        if (_store is { } store && TryStatistics(store) is { } s)
            measurements.Add(new(s.BytesWritten, Disk));
        if (_remote is RedisTier redis)
            measurements.Add(new(redis.GetStatistics().BytesWritten, Remote));
        return measurements;
    }

    private IEnumerable<Measurement<long>> BytesReadMeasurements()
    {
        if (_store is not { } store || TryStatistics(store) is not { } s)
            return [];
        return [new(s.MemoryBytesRead, Memory), new(s.DiskBytesRead, Disk), new(s.RemoteBytesRead, Remote)];
    }

    private IEnumerable<Measurement<long>> EvictionMeasurements()
    {
        if (_store is not { } store || TryStatistics(store) is not { } s)
            return [];
        return [new(s.MemoryEvictions, Memory), new(s.Evictions, Disk)];
    }

    private IEnumerable<Measurement<long>> CorruptionMeasurements()
    {
        var measurements = new List<Measurement<long>>(2);
        if (_store is { } store && TryStatistics(store) is { } s)
            measurements.Add(new(s.CorruptionEvents, Local));
        switch (_remote)
        {
            case RemoteTier remote:
                measurements.Add(new(remote.GetStatistics().CorruptionEvents, Remote));
                break;
            case RedisTier redis:
                measurements.Add(new(redis.GetStatistics().CorruptRecords, Remote));
                break;
        }
        return measurements;
    }

    private IEnumerable<Measurement<long>> RemoteFailureMeasurements() => _remote switch
    {
        RemoteTier remote => [new Measurement<long>(remote.GetStatistics().Failures)],
        RedisTier redis => [new Measurement<long>(redis.GetStatistics().Errors + redis.GetStatistics().ShortCircuited)],
        _ => [],
    };

    private IEnumerable<Measurement<long>> CircuitMeasurements() => _remote switch
    {
        RemoteTier remote => [new Measurement<long>(remote.Circuit == CircuitState.Closed ? 0 : 1)],
        RedisTier redis => [new Measurement<long>(redis.GetStatistics().CircuitOpen ? 1 : 0)],
        _ => [],
    };
}
