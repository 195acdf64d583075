using KvTier.Keys;
using KvTier.Prefetch.Staging;
using KvTier.Storage;

namespace KvTier.Prefetch;

/// <summary>
/// Streams stored chunks into an engine's KV buffer layer by layer, so that the engine computes layer <c>l</c> while
/// layer <c>l + 1</c> loads (vLLM's <c>wait_for_layer_load</c>). Each request runs a pipeline: a reader leases the
/// records and copies their sections, layer-major and checksum-verified, into pinned staging memory bounded by
/// <see cref="PrefetcherOptions.StagingBudgetBytes"/>; decode workers (<see cref="PrefetcherOptions.Decoder"/>) decode
/// each section into its block of the destination; layers complete in order.
/// </summary>
/// <remarks>
/// Concurrency: <see cref="Start"/> and <see cref="GetStatistics"/> may be called from any thread; requests run
/// concurrently and share the staging budget. <c>_lock</c> guards the set of active requests.
/// </remarks>
public sealed class Prefetcher : IDisposable, IAsyncDisposable
{
    private readonly object _lock = new();
    private readonly HashSet<PrefetchRequest> _active = [];
    private bool _disposed;
    private long _requests, _sectionsStaged, _sectionsDecoded, _corruptChunks;

    /// <summary>Creates a prefetcher over <paramref name="store"/>.</summary>
    /// <param name="store">The store to read from; it must outlive the prefetcher.</param>
    /// <param name="options">Options; default: <see cref="PrefetcherOptions"/>'s defaults.</param>
    /// <exception cref="PrefetchException"><see cref="PrefetchErrorKind.InvalidOptions"/>: an option is out of range (the message names it).</exception>
    public Prefetcher(KvStore store, PrefetcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new PrefetcherOptions();
        options.Validate();
        Store = store;
        Options = options;
        Pool = new StagingPool(options.StagingBudgetBytes);
    }

    /// <summary>The store read from.</summary>
    public KvStore Store { get; }

    /// <summary>The options.</summary>
    public PrefetcherOptions Options { get; }

    internal StagingPool Pool { get; }

    /// <summary>
    /// Starts loading the chunks of <paramref name="keys"/> (in request order: chunk <c>i</c> fills token rows
    /// <c>[i · ChunkTokens, …)</c> of <paramref name="destination"/>) and returns at once. Chunks the store lacks, or
    /// whose sections fail their checksums, are reported missing; the others still arrive.
    /// </summary>
    /// <param name="keys">The chunks, e.g. <c>ChunkKeys.PrefixKeys(tokens)</c> or its first <c>store.LongestPrefix(keys)</c>.</param>
    /// <param name="destination">Where the decoded KV goes; it must stay valid until the request is disposed.</param>
    /// <param name="cancellationToken">Cancels the request (as <see cref="PrefetchRequest.Cancel"/> does).</param>
    /// <returns>The request; dispose it (that also cancels it if it is still running).</returns>
    /// <exception cref="PrefetchException"><see cref="PrefetchErrorKind.InvalidDestination"/>: the destination has too few token rows for the chunks.</exception>
    /// <exception cref="ObjectDisposedException">The prefetcher is disposed.</exception>
    public PrefetchRequest Start(IReadOnlyList<ChunkKey> keys, KvDestination destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(destination);
        if (keys.Count > 0 && (long)(keys.Count - 1) * destination.ChunkTokens >= destination.TokenCapacity)
        {
            throw new PrefetchException(PrefetchErrorKind.InvalidDestination,
                $"{keys.Count} chunks of {destination.ChunkTokens} tokens do not fit a destination of {destination.TokenCapacity} token rows (chunk {keys.Count - 1} would start at row {(long)(keys.Count - 1) * destination.ChunkTokens}).");
        }

        var request = new PrefetchRequest(this, [.. keys], destination, cancellationToken);
        lock (_lock)
        {
            // Started under the lock, so that DisposeAsync never sees a request whose pipeline is not yet running.
            ObjectDisposedException.ThrowIf(_disposed, this);
            _active.Add(request);
            Interlocked.Increment(ref _requests);
            request.Run();
        }
        return request;
    }

    /// <summary>The counters now.</summary>
    public PrefetcherStatistics GetStatistics()
    {
        int active;
        lock (_lock)
            active = _active.Count;
        return new PrefetcherStatistics
        {
            Requests = Interlocked.Read(ref _requests),
            ActiveRequests = active,
            StagingBudgetBytes = Pool.Budget,
            StagingRentedBytes = Pool.RentedBytes,
            StagingRentedBuffers = Pool.RentedBuffers,
            StagingAllocatedBytes = Pool.AllocatedBytes,
            BackpressureWaits = Pool.Waits,
            SectionsStaged = Interlocked.Read(ref _sectionsStaged),
            SectionsDecoded = Interlocked.Read(ref _sectionsDecoded),
            CorruptChunks = Interlocked.Read(ref _corruptChunks),
        };
    }

    /// <summary>Cancels every running request, waits for their pipelines to release what they hold, and frees the staging memory.</summary>
    public async ValueTask DisposeAsync()
    {
        PrefetchRequest[] active;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            active = [.. _active];
        }
        foreach (PrefetchRequest request in active)
            request.Cancel();
        foreach (PrefetchRequest request in active)
            await request.Pipeline.ConfigureAwait(false);
        Pool.Dispose();
    }

    /// <summary>As <see cref="DisposeAsync"/>, blocking.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    internal void Finished(PrefetchRequest request)
    {
        lock (_lock)
            _active.Remove(request);
    }

    internal void CountStaged() => Interlocked.Increment(ref _sectionsStaged);

    internal void CountDecoded() => Interlocked.Increment(ref _sectionsDecoded);

    internal void CountCorrupt() => Interlocked.Increment(ref _corruptChunks);
}
