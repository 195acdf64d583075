using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Prefetch.Decoding;
using KvTier.Storage;

namespace KvTier.Prefetch;

/// <summary>
/// One running prefetch (<see cref="Prefetcher.Start"/>): per-layer readiness, per-chunk status, cancellation. Dispose
/// it when done; disposing a running request cancels it, and either way every lease and staging buffer it held is
/// released before <see cref="DisposeAsync"/> returns.
/// </summary>
/// <remarks>
/// Pipeline: one reader task (<c>ReadAsync</c>) → an unbounded channel of <see cref="StagedSection"/>s, bounded in
/// practice by the staging budget each item holds and by <see cref="PrefetcherOptions.MaxLayersAhead"/> (the only bound
/// when the CPU decoder reads sections in place, <see cref="PrefetcherOptions.CpuDecodeInPlace"/>) →
/// <see cref="PrefetcherOptions.DecodeParallelism"/> decode tasks.
/// A channel of items, not a <c>System.IO.Pipelines</c> pipe: each item is a whole section in its own pinned block that
/// the decoder (possibly a device copy) needs at a fixed address, which a pipe's segment stream does not give.
/// Concurrency: every public member may be called from any thread. Chunk statuses change by compare-and-swap from
/// <see cref="ChunkStatus.Loading"/>; per-layer counters are interlocked; <c>_layerLock</c> orders layer completion.
/// </remarks>
public sealed partial class PrefetchRequest : IAsyncDisposable
{
    private readonly Prefetcher _owner;
    private readonly ChunkKey[] _keys;
    private readonly RecordLease?[] _leases;       // written by the reader, released after every stage has ended
    private readonly ChunkRecordHeader?[] _headers; // written by the reader for each chunk that fits, before layer 0 completes; kept after the leases end
    private readonly int[] _sources;               // ChunkSource + 1 (0: none), written with _headers
    private readonly int[] _status;                // ChunkStatus
    private readonly int[] _layerPending;          // sections in flight per layer, plus 1 while the reader is on it
    private readonly bool[] _layerDone;            // under _layerLock
    private readonly TaskCompletionSource<LayerReady>[] _layers;
    private readonly TaskCompletionSource<PrefetchResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _cts;
    private readonly object _layerLock = new();
    private int _nextLayer;                        // under _layerLock: layers [0, _nextLayer) are complete
    private int _firstMissing = int.MaxValue;      // smallest missing chunk index (interlocked minimum)
    private readonly bool _decodeInPlace;          // sections go to the decoders as the tier's bytes, not staged copies
    private Exception? _fault;
    private int _disposed;

    internal PrefetchRequest(Prefetcher owner, ChunkKey[] keys, KvDestination destination, CancellationToken cancellationToken)
    {
        StartTimestamp = Stopwatch.GetTimestamp();
        _owner = owner;
        _keys = keys;
        Destination = destination;
        _leases = new RecordLease?[keys.Length];
        _headers = new ChunkRecordHeader?[keys.Length];
        _sources = new int[keys.Length];
        _status = new int[keys.Length];
        int layers = destination.Layers;
        _layerPending = new int[layers];
        Array.Fill(_layerPending, 1);
        _layerDone = new bool[layers];
        _layers = new TaskCompletionSource<LayerReady>[layers];
        for (int i = 0; i < layers; i++)
            _layers[i] = new TaskCompletionSource<LayerReady>(TaskCreationOptions.RunContinuationsAsynchronously);
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _decodeInPlace = owner.Options.CpuDecodeInPlace && owner.Decoder.DecodesUnstagedPayloads && destination.DeviceBuffer is null;
        Pipeline = Task.CompletedTask;
    }

    /// <summary>The chunks requested, in order.</summary>
    public IReadOnlyList<ChunkKey> Keys => _keys;

    /// <summary>When <see cref="Prefetcher.Start"/> created the request: a <see cref="Stopwatch.GetTimestamp"/> value.</summary>
    public long StartTimestamp { get; }

    /// <summary>Chunks in the request.</summary>
    public int ChunkCount => _keys.Length;

    /// <summary>Layers delivered (the destination's).</summary>
    public int LayerCount => _layers.Length;

    /// <summary>Where the KV goes.</summary>
    public KvDestination Destination { get; }

    /// <summary>
    /// Completes when every layer is delivered and every lease and buffer is released, with each chunk's final status;
    /// canceled if the request was cancelled or disposed first; faulted if it could not run
    /// (<see cref="PrefetchErrorKind.BudgetTooSmall"/>, a store error).
    /// </summary>
    public Task<PrefetchResult> Completion => _completion.Task;

    /// <summary>
    /// The first chunk known so far to be missing (not found, corrupt, mismatched), or -1. With prefix keys, chunks from
    /// here on must be recomputed. Chunks not found are known as soon as the request starts; a corrupt one when its bad
    /// section is reached.
    /// </summary>
    public int FirstMissingChunk => Volatile.Read(ref _firstMissing) is int first && first != int.MaxValue ? first : -1;

    /// <summary>The chunks known so far to be missing, corrupt or mismatched, in order.</summary>
    public IReadOnlyList<int> MissingChunks
    {
        get
        {
            var missing = new List<int>();
            for (int i = 0; i < _status.Length; i++)
            {
                if (GetChunkStatus(i) is ChunkStatus.NotFound or ChunkStatus.Corrupt or ChunkStatus.Mismatch)
                    missing.Add(i);
            }
            return missing;
        }
    }

    /// <summary>
    /// Each layer as it becomes ready, in order: layer 0, 1, …. Ends after the last layer; throws
    /// <see cref="OperationCanceledException"/> if the request is cancelled first, or the request's fault.
    /// </summary>
    public IAsyncEnumerable<LayerReady> Layers => ReadLayersAsync(CancellationToken.None);

    internal Task Pipeline { get; private set; }

    /// <summary>Where chunk <paramref name="chunk"/> stands now.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such chunk.</exception>
    public ChunkStatus GetChunkStatus(int chunk)
    {
        if ((uint)chunk >= (uint)_status.Length)
            throw new ArgumentOutOfRangeException(nameof(chunk), chunk, $"Chunk must be within [0, {_status.Length}).");
        return (ChunkStatus)Volatile.Read(ref _status[chunk]);
    }

    /// <summary>
    /// The header of chunk <paramref name="chunk"/>'s record (its layout, token count, and the position its KV was computed
    /// at), or null when the chunk is not in the store or did not fit the destination. Set before layer 0 completes, and
    /// kept after the request ends; a chunk found corrupt later keeps its header but its status says it is not loaded.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such chunk.</exception>
    public ChunkRecordHeader? GetChunkHeader(int chunk)
    {
        if ((uint)chunk >= (uint)_headers.Length)
            throw new ArgumentOutOfRangeException(nameof(chunk), chunk, $"Chunk must be within [0, {_headers.Length}).");
        return Volatile.Read(ref _headers[chunk]);
    }

    /// <summary>
    /// The tier chunk <paramref name="chunk"/>'s record was read from, or null when it is not in the store or did not fit
    /// the destination. Known when its header is (<see cref="GetChunkHeader"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such chunk.</exception>
    public ChunkSource? GetChunkSource(int chunk)
    {
        if ((uint)chunk >= (uint)_sources.Length)
            throw new ArgumentOutOfRangeException(nameof(chunk), chunk, $"Chunk must be within [0, {_sources.Length}).");
        int source = Volatile.Read(ref _sources[chunk]);
        return source == 0 ? null : (ChunkSource)(source - 1);
    }

    /// <summary>
    /// Completes when layer <paramref name="layer"/>'s K and V of every available chunk are in the destination (and so
    /// are all earlier layers'). Reading the layer's rows after this completes sees the decoded values.
    /// </summary>
    /// <param name="layer">0 to <see cref="LayerCount"/> − 1.</param>
    /// <param name="cancellationToken">Stops this wait only (the request carries on).</param>
    /// <exception cref="ArgumentOutOfRangeException">No such layer.</exception>
    /// <exception cref="OperationCanceledException">The request was cancelled or disposed before the layer arrived, or this wait was cancelled.</exception>
    /// <exception cref="PrefetchException">The request failed (for instance <see cref="PrefetchErrorKind.BudgetTooSmall"/>).</exception>
    public ValueTask<LayerReady> WaitForLayerAsync(int layer, CancellationToken cancellationToken = default)
    {
        if ((uint)layer >= (uint)_layers.Length)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {_layers.Length}).");
        Task<LayerReady> task = _layers[layer].Task;
        if (task.IsCompletedSuccessfully)
            return new ValueTask<LayerReady>(task.Result);
        return new ValueTask<LayerReady>(cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task);
    }

    /// <summary>Stops the request midway; its pipeline then releases every lease and buffer. Idempotent.</summary>
    public void Cancel()
    {
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The pipeline already ended.
        }
    }

    /// <summary>Cancels the request if it is still running and waits until it has released every lease and staging buffer.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && !Pipeline.IsCompleted)
            Cancel();
        await Pipeline.ConfigureAwait(false);
    }

    private async IAsyncEnumerable<LayerReady> ReadLayersAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int layer = 0; layer < _layers.Length; layer++)
            yield return await WaitForLayerAsync(layer, cancellationToken).ConfigureAwait(false);
    }

    internal void Run() => Pipeline = RunAsync();

    private async Task RunAsync()
    {
        CancellationToken token = _cts.Token;
        int parallelism = _owner.Options.DecodeParallelism;
        var channel = Channel.CreateUnbounded<StagedSection>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = parallelism == 1 });
        var stages = new Task[1 + parallelism];
        stages[0] = Task.Run(() => ReadAsync(channel.Writer, token), CancellationToken.None);
        for (int i = 1; i < stages.Length; i++)
            stages[i] = Task.Run(() => DecodeAsync(channel.Reader, token), CancellationToken.None);
        try
        {
            await Task.WhenAll(stages).ConfigureAwait(false); // Stages catch their own errors; this cannot throw.
        }
        finally
        {
            // Sections staged but never decoded (cancelled, failed): their blocks go back; then the leases.
            while (channel.Reader.TryRead(out StagedSection left))
            {
                if (left.Buffer is { } buffer)
                    _owner.Pool.Return(buffer);
            }
            for (int i = 0; i < _leases.Length; i++)
            {
                _leases[i]?.Dispose();
                _leases[i] = null;
            }
            Finish(token);
            _cts.Dispose();
            _owner.Finished(this);
        }
    }

    private void Finish(CancellationToken token)
    {
        bool allLayers;
        lock (_layerLock)
            allLayers = _nextLayer == _layers.Length;
        if (allLayers)
        {
            for (int i = 0; i < _status.Length; i++)
                Interlocked.CompareExchange(ref _status[i], (int)ChunkStatus.Loaded, (int)ChunkStatus.Loading);
            var statuses = new ChunkStatus[_status.Length];
            for (int i = 0; i < statuses.Length; i++)
                statuses[i] = GetChunkStatus(i);
            _completion.TrySetResult(new PrefetchResult(statuses, FirstMissingChunk));
            return;
        }

        Exception? fault = Volatile.Read(ref _fault);
        foreach (TaskCompletionSource<LayerReady> layer in _layers)
        {
            if (fault is null)
                layer.TrySetCanceled(token);
            else
                layer.TrySetException(fault);
        }
        if (fault is null)
            _completion.TrySetCanceled(token);
        else
            _completion.TrySetException(fault);
    }

    /// <summary>Records the request's first fault and stops every stage.</summary>
    private void Fail(Exception fault)
    {
        Interlocked.CompareExchange(ref _fault, fault, null);
        _cts.Cancel();
    }

    /// <summary>Marks a chunk missing for this request (first the minimum, so no layer completes claiming it).</summary>
    private void MarkMissing(int chunk, ChunkStatus status)
    {
        int current;
        while (chunk < (current = Volatile.Read(ref _firstMissing)) && Interlocked.CompareExchange(ref _firstMissing, chunk, current) != current)
        {
        }
        if (Interlocked.CompareExchange(ref _status[chunk], (int)status, (int)ChunkStatus.Loading) == (int)ChunkStatus.Loading && status == ChunkStatus.Corrupt)
            _owner.CountCorrupt();
    }

    /// <summary>
    /// One section of <paramref name="layer"/> is done (or the reader has passed it); completes layers in order. True
    /// when this call completed <paramref name="layer"/> (whether or not an earlier layer still holds its delivery).
    /// </summary>
    private bool ReleaseLayer(int layer)
    {
        if (Interlocked.Decrement(ref _layerPending[layer]) != 0)
            return false;
        lock (_layerLock)
        {
            _layerDone[layer] = true;
            while (_nextLayer < _layers.Length && _layerDone[_nextLayer])
            {
                int first = Volatile.Read(ref _firstMissing);
                _layers[_nextLayer].TrySetResult(new LayerReady(_nextLayer, Math.Min(first, _keys.Length), Destination));
                _nextLayer++;
            }
        }
        return true;
    }
}
