using KvTier.Format;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Prefetch;
using KvTier.Storage;

namespace KvTier.Blend;

/// <summary>
/// One running blend (<see cref="Blender.Start"/>): the stored chunks stream in through a prefetch request, and each
/// layer is scattered to its target rows — K re-rotated on the way — as soon as the prefetcher has it, so that the
/// engine can start on layer 0 while later layers still load.
/// </summary>
/// <remarks>
/// Concurrency: every public member may be called from any thread. One task (<c>RunAsync</c>) writes the blended KV,
/// layer by layer, and completes each layer's task after writing it; the engine reads a layer only after that.
/// Memory: besides <see cref="Kv"/> (binary32, every position of every layer), the request holds the prefetcher's
/// binary32 copy of the stored chunks (a row stride of the longest stored entry per chunk) until the last layer is
/// assembled — about as much again, released when the blend ends.
/// </remarks>
public sealed class BlendRequest : IAsyncDisposable
{
    private readonly Blender _owner;
    private readonly BlendEntry[] _entries;   // resolved plan entries
    private readonly int[] _stored;           // indices into _entries of the entries read from the store, in prefetch order
    private readonly bool[] _found;           // per stored entry: the prefetcher has it (fixed at layer 0)
    private readonly float[]?[] _cos;         // per stored entry: its rotation table, null when its keys stay as they are
    private readonly float[]?[] _sin;
    private readonly TaskCompletionSource<BlendedKv>[] _layers;
    private readonly TaskCompletionSource<BlendedKv> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _cts;
    private PrefetchRequest? _prefetch;
    private Task _run = Task.CompletedTask;
    private int _disposed;

    internal BlendRequest(Blender owner, BlendPlan plan, BlendEntry[] entries, CancellationToken cancellationToken)
    {
        _owner = owner;
        _entries = entries;
        Kv = new BlendedKv(owner.Layout, plan, entries);
        var stored = new List<int>();
        for (int i = 0; i < entries.Length; i++)
        {
            if (entries[i].Kind != BlendEntryKind.Compute)
                stored.Add(i);
        }

        _stored = [.. stored];
        _found = new bool[_stored.Length];
        _cos = new float[]?[_stored.Length];
        _sin = new float[]?[_stored.Length];
        _layers = new TaskCompletionSource<BlendedKv>[owner.Layout.Layers];
        for (int layer = 0; layer < _layers.Length; layer++)
            _layers[layer] = new TaskCompletionSource<BlendedKv>(TaskCreationOptions.RunContinuationsAsynchronously);
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>The blended KV being filled; a layer's rows and every position's origin are valid once <see cref="WaitForLayerAsync"/> for it (layer 0 for origins) completed.</summary>
    public BlendedKv Kv { get; }

    /// <summary>Completes with <see cref="Kv"/> when every layer is in place; faults as the request does.</summary>
    public Task<BlendedKv> Completion => _completion.Task;

    /// <summary>Completes when layer <paramref name="layer"/> (and every earlier one) is assembled.</summary>
    /// <param name="layer">0 to layers − 1.</param>
    /// <param name="cancellationToken">Stops this wait only.</param>
    /// <returns><see cref="Kv"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">No such layer.</exception>
    /// <exception cref="BlendException">A stored chunk does not fit the plan or the layout (see <see cref="BlendErrorKind"/>).</exception>
    /// <exception cref="PrefetchException">Reading the chunks failed.</exception>
    /// <exception cref="OperationCanceledException">The blend was cancelled or disposed first, or this wait was cancelled.</exception>
    public ValueTask<BlendedKv> WaitForLayerAsync(int layer, CancellationToken cancellationToken = default)
    {
        if ((uint)layer >= (uint)_layers.Length)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {_layers.Length}).");
        Task<BlendedKv> task = _layers[layer].Task;
        if (task.IsCompletedSuccessfully)
            return new ValueTask<BlendedKv>(task.Result);
        return new ValueTask<BlendedKv>(cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task);
    }

    /// <summary>Stops the blend; layers not yet assembled never complete successfully. Idempotent.</summary>
    public void Cancel()
    {
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The blend already ended.
        }
    }

    /// <summary>Cancels the blend if it is still running and waits until its prefetch request has released every lease.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (!_run.IsCompleted)
            Cancel();
        try
        {
            await _run.ConfigureAwait(false);
        }
        finally
        {
            _cts.Dispose();
        }
    }

    internal void Run() => _run = RunAsync();

    private async Task RunAsync()
    {
        CancellationToken token = _cts.Token;
        try
        {
            KvDestination? scratch = null;
            if (_stored.Length > 0)
            {
                int stride = 1;
                var keys = new ChunkKey[_stored.Length];
                for (int i = 0; i < _stored.Length; i++)
                {
                    BlendEntry entry = _entries[_stored[i]];
                    keys[i] = entry.Key!.Value;
                    stride = Math.Max(stride, entry.TokenCount);
                }

                long rows = (long)_stored.Length * stride;
                if (rows > int.MaxValue)
                    throw new BlendException(BlendErrorKind.OutOfRange, $"{_stored.Length} stored chunks of up to {stride} tokens are too many rows for one blend.");
                scratch = KvDestination.Allocate(Kv.Layout.Layers, Kv.Layout.KvDim, (int)rows, stride);
                _prefetch = _owner.Prefetcher.Start(keys, scratch, token);
            }

            for (int layer = 0; layer < _layers.Length; layer++)
            {
                if (_prefetch is not null)
                    await _prefetch.WaitForLayerAsync(layer, token).ConfigureAwait(false);
                if (layer == 0)
                    ResolveOrigins();
                else
                    CheckStillFound(layer);
                if (scratch is not null)
                    Scatter(layer, scratch);
                _layers[layer].TrySetResult(Kv);
            }

            _completion.TrySetResult(Kv);
        }
        catch (Exception e)
        {
            Fail(e, token);
        }
        finally
        {
            if (_prefetch is not null)
                await _prefetch.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Fixes every position's origin and every stored entry's rotation, after the prefetcher has leased the records.
    private void ResolveOrigins()
    {
        KvLayout layout = Kv.Layout;
        var missing = new List<BlendEntry>();
        foreach (BlendEntry entry in _entries)
        {
            if (entry.Kind == BlendEntryKind.Compute)
                Kv.SetOrigin(entry.TargetStart, entry.TokenCount, TokenOrigin.Computed);
        }

        for (int i = 0; i < _stored.Length; i++)
        {
            BlendEntry entry = _entries[_stored[i]];
            ChunkStatus status = _prefetch!.GetChunkStatus(i);
            if (status == ChunkStatus.Mismatch)
                throw Mismatch(entry, StoredHeader(entry));
            if (status is not (ChunkStatus.Loading or ChunkStatus.Loaded) || _prefetch.GetChunkHeader(i) is not { } header)
            {
                missing.Add(entry);
                Kv.SetOrigin(entry.TargetStart, entry.TokenCount, TokenOrigin.Computed);
                continue;
            }

            if (!header.Layout.Equals(layout) || header.TokenCount != entry.TokenCount)
                throw Mismatch(entry, header);
            long delta = (long)entry.TargetStart - header.FirstPosition;
            if (entry.Kind == BlendEntryKind.Prefix)
            {
                if (delta != 0)
                {
                    throw new BlendException(BlendErrorKind.PrefixMoved,
                        $"The prefix-keyed chunk {entry.Key} was computed at positions from {header.FirstPosition}; the plan places it at {entry.TargetStart}. Exact KV cannot move: use a segment entry.");
                }

                Kv.SetOrigin(entry.TargetStart, entry.TokenCount, TokenOrigin.Exact);
            }
            else
            {
                Kv.SetOrigin(entry.TargetStart, entry.TokenCount, TokenOrigin.Reused);
            }

            _found[i] = true;
            if (delta != 0 && _owner.Options.RerotateKeys && layout.KeysStoredAfterRope && layout.Rope.Pairing != RopePairing.None)
            {
                int pairs = layout.Rope.RotaryDims / 2;
                _cos[i] = new float[pairs];
                _sin[i] = new float[pairs];
                RopeRotation.BuildAngles(layout.Rope, delta, _cos[i], _sin[i]);
            }
        }

        Kv.SealOrigins([.. missing]);
    }

    // A record can fail a later layer's checksum after its earlier layers were handed out: those cannot be taken back.
    private void CheckStillFound(int layer)
    {
        for (int i = 0; i < _stored.Length; i++)
        {
            if (_found[i] && _prefetch!.GetChunkStatus(i) == ChunkStatus.Corrupt)
            {
                BlendEntry entry = _entries[_stored[i]];
                throw new BlendException(BlendErrorKind.SourceCorrupt,
                    $"The stored chunk {entry.Key} (positions {entry.TargetStart}..{entry.TargetEnd - 1}) failed its checksum at layer {layer}, after earlier layers of it were handed out. The store dropped it; blend the plan again to compute those positions.");
            }
        }
    }

    // Copies each found chunk's rows of one layer to its target rows, rotating K where it moved.
    private void Scatter(int layer, KvDestination scratch)
    {
        int kvDim = Kv.Layout.KvDim;
        Span<float> keys = Kv.Keys(layer);
        Span<float> values = Kv.Values(layer);
        ReadOnlySpan<float> sourceKeys = scratch.Section(layer, SectionKind.Keys).Span;
        ReadOnlySpan<float> sourceValues = scratch.Section(layer, SectionKind.Values).Span;
        for (int i = 0; i < _stored.Length; i++)
        {
            if (!_found[i])
                continue;
            BlendEntry entry = _entries[_stored[i]];
            int floats = entry.TokenCount * kvDim;
            int from = i * scratch.ChunkTokens * kvDim;
            int to = entry.TargetStart * kvDim;
            sourceValues.Slice(from, floats).CopyTo(values.Slice(to, floats));
            if (_cos[i] is { } cos)
                RopeRotation.RerotateInto(sourceKeys.Slice(from, floats), keys.Slice(to, floats), Kv.Layout, cos, _sin[i]);
            else
                sourceKeys.Slice(from, floats).CopyTo(keys.Slice(to, floats));
        }
    }

    private ChunkRecordHeader? StoredHeader(BlendEntry entry)
    {
        if (!_owner.Prefetcher.Store.TryGet(entry.Key!.Value, ReadVerification.Header, out RecordLease? lease))
            return null;
        using (lease)
            return lease.Record.Header;
    }

    private BlendException Mismatch(BlendEntry entry, ChunkRecordHeader? header)
    {
        if (header is null)
            return new BlendException(BlendErrorKind.LayoutMismatch, $"The stored chunk {entry.Key} does not fit the blend's layout ({Describe(Kv.Layout)}).");
        if (!header.Layout.Equals(Kv.Layout))
        {
            return new BlendException(BlendErrorKind.LayoutMismatch,
                $"The stored chunk {entry.Key} was computed for layout {Describe(header.Layout)}; the blend's layout is {Describe(Kv.Layout)}.");
        }

        return new BlendException(BlendErrorKind.TokenCountMismatch,
            $"The stored chunk {entry.Key} holds {header.TokenCount} tokens; the plan's entry at {entry.TargetStart} says {entry.TokenCount}.");
    }

    private static string Describe(KvLayout l) =>
        $"{l.Layers} layers × {l.KvHeads} KV heads × {l.HeadDim}, {l.ElementType}, RoPE {l.Rope.Pairing} θ={l.Rope.Theta} rotary {l.Rope.RotaryDims}, keys {(l.KeysStoredAfterRope ? "after" : "before")} RoPE";

    private void Fail(Exception e, CancellationToken token)
    {
        bool cancelled = e is OperationCanceledException && token.IsCancellationRequested;
        foreach (TaskCompletionSource<BlendedKv> layer in _layers)
        {
            if (cancelled)
                layer.TrySetCanceled(token);
            else
                layer.TrySetException(e);
        }

        if (cancelled)
            _completion.TrySetCanceled(token);
        else
            _completion.TrySetException(e);
    }
}
