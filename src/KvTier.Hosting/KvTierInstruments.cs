namespace KvTier.Hosting;

/// <summary>
/// The names of the <c>KvTier</c> meter's instruments and tags (OpenTelemetry style), as <see cref="KvTierMetrics"/>
/// publishes them and <c>kvtier stats</c> prints them. README.md lists each one's unit, tags and meaning.
/// </summary>
public static class KvTierInstruments
{
    /// <summary>The meter's name: <c>KvTier</c> (what <c>dotnet-counters monitor --counters KvTier</c> and OpenTelemetry's <c>AddMeter</c> take).</summary>
    public const string MeterName = "KvTier";

    /// <summary>The tag naming a tier: <c>kvtier.tier</c> = <c>memory</c>, <c>disk</c>, <c>remote</c> (or <c>local</c> for memory and disk together).</summary>
    public const string TierTag = "kvtier.tier";

    /// <summary>The tag of how a prefetch request ended: <c>kvtier.outcome</c> = <c>complete</c>, <c>partial</c>, <c>canceled</c>, <c>failed</c>.</summary>
    public const string OutcomeTag = "kvtier.outcome";

    /// <summary>Local gets (memory hits + disk hits + misses), {lookup}.</summary>
    public const string StoreLookups = "kvtier.store.lookups";

    /// <summary>Gets served, {hit}, per <see cref="TierTag"/> (memory, disk, remote).</summary>
    public const string StoreHits = "kvtier.store.hits";

    /// <summary>Gets a tier could not serve, {miss}, per <see cref="TierTag"/> (memory, disk, remote).</summary>
    public const string StoreMisses = "kvtier.store.misses";

    /// <summary>Records stored by puts, {record}.</summary>
    public const string StorePuts = "kvtier.store.puts";

    /// <summary>Records deleted, {record}.</summary>
    public const string StoreDeletes = "kvtier.store.deletes";

    /// <summary>Bytes written, By, per <see cref="TierTag"/> (disk; remote for Redis).</summary>
    public const string StoreBytesWritten = "kvtier.store.bytes_written";

    /// <summary>Bytes read, By, per <see cref="TierTag"/> (remote, for Redis).</summary>
    public const string StoreBytesRead = "kvtier.store.bytes_read";

    /// <summary>Records evicted for capacity, {record}, per <see cref="TierTag"/> (memory, disk).</summary>
    public const string StoreEvictions = "kvtier.store.evictions";

    /// <summary>Records found corrupt and dropped (each a miss, never data), {record}, per <see cref="TierTag"/> (local, remote).</summary>
    public const string StoreCorruptionEvents = "kvtier.store.corruption_events";

    /// <summary>Records stored now, {record}.</summary>
    public const string StoreEntries = "kvtier.store.entries";

    /// <summary>Frame bytes of the records stored now, By.</summary>
    public const string StoreLiveBytes = "kvtier.store.live_bytes";

    /// <summary>Bytes of segment files no record needs, awaiting compaction, By.</summary>
    public const string StoreDeadBytes = "kvtier.store.dead_bytes";

    /// <summary>Segment files now, {segment}.</summary>
    public const string StoreSegments = "kvtier.store.segments";

    /// <summary>Native memory the memory tier owns now, By.</summary>
    public const string StoreMemoryBytes = "kvtier.store.memory_bytes";

    /// <summary>Local misses the remote tier served, {hit}.</summary>
    public const string RemoteHits = "kvtier.remote.hits";

    /// <summary>Local misses the remote tier could not serve, {miss}.</summary>
    public const string RemoteMisses = "kvtier.remote.misses";

    /// <summary>Records written behind to the remote tier and acknowledged, {record}.</summary>
    public const string RemoteWrites = "kvtier.remote.writes";

    /// <summary>Records not written behind (queue full, remote down or refusing), {record}.</summary>
    public const string RemoteWritesDropped = "kvtier.remote.writes.dropped";

    /// <summary>Records waiting to be written behind now, {record}.</summary>
    public const string RemoteWritesQueued = "kvtier.remote.writes.queued";

    /// <summary>Remote tier calls that failed, timed out or were refused by the open circuit, {call}.</summary>
    public const string RemoteFailures = "kvtier.remote.failures";

    /// <summary>1 while the remote tier's circuit breaker is open or half-open, else 0, {circuit}.</summary>
    public const string RemoteCircuitOpen = "kvtier.remote.circuit.open";

    /// <summary>Prefetch requests started, {request}.</summary>
    public const string PrefetchRequests = "kvtier.prefetch.requests";

    /// <summary>Prefetch requests running now, {request}.</summary>
    public const string PrefetchActiveRequests = "kvtier.prefetch.active_requests";

    /// <summary>Chunks loaded into a destination by measured requests, {chunk}.</summary>
    public const string PrefetchChunksLoaded = "kvtier.prefetch.chunks.loaded";

    /// <summary>Sections decoded into a destination, {section}.</summary>
    public const string PrefetchSectionsDecoded = "kvtier.prefetch.sections.decoded";

    /// <summary>Chunks reported corrupt to a request, {chunk}.</summary>
    public const string PrefetchCorruptChunks = "kvtier.prefetch.corrupt_chunks";

    /// <summary>Times a reader waited for staging memory, {wait}.</summary>
    public const string PrefetchBackpressureWaits = "kvtier.prefetch.backpressure_waits";

    /// <summary>Staging bytes rented out now, By.</summary>
    public const string PrefetchStagingBytes = "kvtier.prefetch.staging.bytes";

    /// <summary>Pinned staging bytes allocated now (rented plus cached), By.</summary>
    public const string PrefetchStagingAllocatedBytes = "kvtier.prefetch.staging.allocated_bytes";

    /// <summary>Time from a measured request's start to its completion, s, per <see cref="OutcomeTag"/>.</summary>
    public const string PrefetchLoadDuration = "kvtier.prefetch.load.duration";

    /// <summary>Time from a measured request's start until layer 0 was ready (when the engine can start computing), s.</summary>
    public const string PrefetchFirstLayerDuration = "kvtier.prefetch.first_layer.duration";

    /// <summary>
    /// The fraction of a measured request's load time after layer 0 was ready, (load − first layer) ÷ load, 1: the part
    /// of loading the engine can overlap with its own computation (1 = all of it, 0 = none).
    /// </summary>
    public const string PrefetchOverlap = "kvtier.prefetch.overlap";
}
