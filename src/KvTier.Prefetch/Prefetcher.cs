using KvTier.Keys;
using KvTier.Prefetch.Decoding;
using KvTier.Prefetch.Staging;
using KvTier.Storage;

namespace KvTier.Prefetch;

/// <summary>
/// Streams stored chunks into an engine's KV buffer layer by layer, so that the engine computes layer <c>l</c> while
/// layer <c>l + 1</c> loads (vLLM's <c>wait_for_layer_load</c>). Each request runs a pipeline: a reader leases the
/// records and copies their sections, layer-major and checksum-verified, into pinned staging memory bounded by
/// <see cref="PrefetcherOptions.StagingBudgetBytes"/>; decode workers (<see cref="PrefetcherOptions.Decoder"/>) decode
/// each section into its block of the destination; layers complete in order. Decoding runs on the best GPU present, else
/// on the CPU (<see cref="SectionDecoders.Best"/>), unless the options name a decoder.
/// </summary>
/// <remarks>
/// Concurrency: <see cref="Start"/> and <see cref="GetStatistics"/> may be called from any thread; requests run
/// concurrently and share the staging budget. <c>_lock</c> guards the set of active requests.
/// </remarks>
public sealed class Prefetcher : IDisposable, IAsyncDisposable
{
    private readonly object _lock = new();
    private readonly HashSet<PrefetchRequest> _active = [];
    private readonly IDisposable? _ownedDecoder; // a decoder this prefetcher chose itself, disposed after the staging pool
    private bool _disposed;
    private long _requests, _sectionsStaged, _sectionsDecoded, _corruptChunks;

    /// <summary>Creates a prefetcher over <paramref name="store"/>.</summary>
    /// <param name="store">The store to read from; it must outlive the prefetcher.</param>
    /// <param name="options">
    /// Options; default: <see cref="PrefetcherOptions"/>'s defaults. Without a <see cref="PrefetcherOptions.Decoder"/>, the
    /// constructor places decoding (<see cref="SectionDecoders.Best"/>): with a GPU it opens the device and compiles the
    /// decode kernels (seconds), and an error doing so (a lost device, a driver fault) is thrown from here.
    /// </param>
    /// <exception cref="PrefetchException"><see cref="PrefetchErrorKind.InvalidOptions"/>: an option is out of range (the message names it).</exception>
    public Prefetcher(KvStore store, PrefetcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new PrefetcherOptions();
        options.Validate();
        Store = store;
        Options = options;
        Decoder = options.Decoder ?? SectionDecoders.Best();
        if (options.Decoder is null)
            _ownedDecoder = Decoder as IDisposable;
        // With a device decoder, staging blocks are page-locked with its device as they are allocated (issue 5 §1).
        Pool = new StagingPool(options.StagingBudgetBytes, Decoder as IStagingMemoryRegistrar);
    }

    /// <summary>The store read from.</summary>
    public KvStore Store { get; }

    /// <summary>The options.</summary>
    public PrefetcherOptions Options { get; }

    /// <summary>
    /// The decode stage in use: <see cref="PrefetcherOptions.Decoder"/>, or the one automatic placement chose
    /// (<see cref="SectionDecoders.Best"/>; its <see cref="ISectionDecoder.Name"/> is also in <see cref="PrefetcherStatistics.Decoder"/>).
    /// </summary>
    public ISectionDecoder Decoder { get; }

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
    /// <exception cref="PrefetchException"><see cref="PrefetchErrorKind.InvalidDestination"/>: the destination has too few token rows for the
    /// chunks, or is a device buffer (<see cref="KvDestination.OnDevice"/>) that this prefetcher's <see cref="Decoder"/>
    /// cannot write (it is not an <see cref="AcceleratorSectionDecoder"/> on that buffer's accelerator).</exception>
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

        if (destination.DeviceBuffer is { } device && (Decoder is not AcceleratorSectionDecoder accelerated || accelerated.Accelerator != device.Accelerator))
        {
            throw new PrefetchException(PrefetchErrorKind.InvalidDestination,
                $"The destination is a buffer on accelerator '{device.Accelerator.Name}'; this prefetcher's decoder ('{Decoder.Name}') can only write to host memory or its own accelerator.");
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
        if (RequestStarted is { } started)
            RaiseStarted(started, request);
        return request;
    }

    /// <summary>
    /// Raised by <see cref="Start"/> on its caller's thread for every request, once its pipeline runs, before
    /// <see cref="Start"/> returns it: how a meter sees every load, whoever starts it (<c>KvTier.Hosting</c>'s metrics
    /// subscribe here). Handlers must be quick and must not dispose or wait on the request.
    /// </summary>
    /// <remarks>A handler that throws gets the request cancelled and its exception thrown from <see cref="Start"/>.</remarks>
    public event Action<PrefetchRequest>? RequestStarted;

    private static void RaiseStarted(Action<PrefetchRequest> started, PrefetchRequest request)
    {
        try
        {
            started(request);
        }
        catch
        {
            // The caller never gets the request: end it here, or it would hold its leases and staging until disposal.
            _ = request.DisposeAsync().AsTask();
            throw;
        }
    }

    /// <summary>The counters now.</summary>
    public PrefetcherStatistics GetStatistics()
    {
        int active;
        lock (_lock)
            active = _active.Count;
        return new PrefetcherStatistics
        {
            Decoder = Decoder.Name,
            Requests = Interlocked.Read(ref _requests),
            ActiveRequests = active,
            StagingBudgetBytes = Pool.Budget,
            StagingRentedBytes = Pool.RentedBytes,
            StagingRentedBuffers = Pool.RentedBuffers,
            StagingAllocatedBytes = Pool.AllocatedBytes,
            StagingPageLockedBytes = Pool.RegisteredBytes,
            BackpressureWaits = Pool.Waits,
            SectionsStaged = Interlocked.Read(ref _sectionsStaged),
            SectionsDecoded = Interlocked.Read(ref _sectionsDecoded),
            CorruptChunks = Interlocked.Read(ref _corruptChunks),
        };
    }

    /// <summary>
    /// Cancels every running request, waits for their pipelines to release what they hold, frees the staging memory (ending
    /// its device registrations), and then disposes the decoder if this prefetcher chose it.
    /// </summary>
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
        _ownedDecoder?.Dispose();
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
