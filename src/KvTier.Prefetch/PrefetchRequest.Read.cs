using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using KvTier.Format;
using KvTier.Prefetch.Decoding;
using KvTier.Prefetch.Staging;
using KvTier.Storage;

namespace KvTier.Prefetch;

// The read stage: lease every record, then copy sections layer-major into staging blocks, checking each checksum.
public sealed partial class PrefetchRequest
{
    private async Task ReadAsync(ChannelWriter<StagedSection> writer, CancellationToken token)
    {
        try
        {
            await LeaseRecordsAsync(token).ConfigureAwait(false);
            bool skipAfterMissing = _owner.Options.SkipChunksAfterMissing;
            int ahead = _owner.Options.MaxLayersAhead;
            if (_layers.Length > 0)
                ReadAhead(0); // Every chunk's first layer at once: cold reads overlap in the device queue instead of one seek each.
            for (int layer = 0; layer < _layers.Length; layer++)
            {
                if (layer >= ahead)
                    await WaitForLayerOrStopAsync(layer - ahead, token).ConfigureAwait(false);
                if (layer + 1 < _layers.Length)
                    ReadAhead(layer + 1);
                for (int chunk = 0; chunk < _keys.Length; chunk++)
                {
                    if (GetChunkStatus(chunk) != ChunkStatus.Loading)
                        continue;
                    if (skipAfterMissing && chunk > Volatile.Read(ref _firstMissing))
                    {
                        Interlocked.CompareExchange(ref _status[chunk], (int)ChunkStatus.Skipped, (int)ChunkStatus.Loading);
                        continue;
                    }
                    RecordLease lease = _leases[chunk]!;
                    for (int kind = 0; kind < 2; kind++)
                    {
                        token.ThrowIfCancellationRequested();
                        if (!await StageAsync(writer, lease, chunk, layer, (SectionKind)kind, token).ConfigureAwait(false))
                        {
                            MarkMissing(chunk, ChunkStatus.Corrupt);
                            break;
                        }
                    }
                }
                ReleaseLayer(layer); // The reader's own hold: every section of this layer is now in flight.
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Cancelled: RunAsync releases what was staged.
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            writer.TryComplete();
        }
    }

    /// <summary>Waits until <paramref name="layer"/> is delivered; a failed request ends the wait too (the reader then stops on its token).</summary>
    private async Task WaitForLayerOrStopAsync(int layer, CancellationToken token)
    {
        try
        {
            await _layers[layer].Task.WaitAsync(token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            // The layer failed: the request is failing and its token is about to be cancelled; keep going until it is.
        }
    }

    /// <summary>Asks the tier to start reading the next layer's sections of every chunk while this layer is staged.</summary>
    private void ReadAhead(int layer)
    {
        for (int chunk = 0; chunk < _keys.Length; chunk++)
        {
            if (_leases[chunk] is { } lease && GetChunkStatus(chunk) == ChunkStatus.Loading)
            {
                // Sections inside the record's first LeaseReadAheadBytes were asked for when it was leased: a small
                // record (real-model layouts are a few KiB a section) then costs no system call per section.
                SectionEntry values = lease.Record.Sections[2 * layer + 1];
                if (values.Offset + values.Length <= LeaseReadAheadBytes)
                    continue;
                lease.ReadAhead(layer, SectionKind.Keys);
                lease.ReadAhead(layer, SectionKind.Values);
            }
        }
    }

    // What LeaseRecords asks the store to read ahead of each record: 256 KiB.
    private const long LeaseReadAheadBytes = 256 << 10;

    // Remote fetches a request runs at once, for chunks the local tiers do not hold: as many as keep about
    // RemoteFetchBudgetBytes of records in flight (estimated at 2 bytes per element), from 1 to MaxRemoteFetches. Small
    // records then overlap their round trips (30 chunks of 16 tokens of a tiny model: 6.5 ms instead of 11 at 8 at a
    // time), and large ones stay bounded (8 at a time for 8B-class chunks of 256 tokens, 32 MiB each).
    private const long RemoteFetchBudgetBytes = 256L << 20;
    private const int MaxRemoteFetches = 32;

    private int RemoteFetchParallelism
    {
        get
        {
            KvDestination d = Destination;
            long estimate = Math.Max(1, 2L * d.Layers * d.KvDim * d.ChunkTokens * 2);
            return (int)Math.Clamp(RemoteFetchBudgetBytes / estimate, 1, MaxRemoteFetches);
        }
    }

    private async Task LeaseRecordsAsync(CancellationToken token)
    {
        KvStore store = _owner.Store;
        bool skipAfterMissing = _owner.Options.SkipChunksAfterMissing;
        // Headers, section tables and (usually) layer 0 of every record, requested at once: leasing cold records one by
        // one would otherwise wait for one read each before layer 0 can start.
        store.ReadAhead(_keys, LeaseReadAheadBytes);
        List<int>? remote = null;
        for (int chunk = 0; chunk < _keys.Length; chunk++)
        {
            // Header verification: each section's checksum is checked when the section is staged, so one pass over
            // the bytes does both, and layer 0 does not wait for the last layer's bytes.
            if (store.TryGet(_keys[chunk], ReadVerification.Header, out RecordLease? lease))
                _leases[chunk] = lease;
            else if (store.Options.RemoteTier is not null)
                (remote ??= []).Add(chunk);
        }
        bool[]? fromRemote = null;
        if (remote is not null)
        {
            fromRemote = new bool[_keys.Length];
            await FetchRemoteAsync(store, remote, fromRemote, token).ConfigureAwait(false);
        }
        for (int chunk = 0; chunk < _keys.Length; chunk++)
        {
            if (skipAfterMissing && chunk > Volatile.Read(ref _firstMissing))
            {
                _leases[chunk]?.Dispose();
                _leases[chunk] = null;
                _status[chunk] = (int)ChunkStatus.Skipped;
                continue;
            }
            if (_leases[chunk] is not { } lease)
            {
                MarkMissing(chunk, ChunkStatus.NotFound);
                continue;
            }
            if (!Fits(lease.Record.Header, chunk))
            {
                lease.Dispose();
                _leases[chunk] = null;
                MarkMissing(chunk, ChunkStatus.Mismatch);
            }
            else
            {
                ChunkSource source = fromRemote?[chunk] == true ? ChunkSource.Remote : lease.Tier == StoreTier.Memory ? ChunkSource.Memory : ChunkSource.Disk;
                Volatile.Write(ref _sources[chunk], (int)source + 1);
                Volatile.Write(ref _headers[chunk], lease.Record.Header);
            }
        }
    }

    /// <summary>Fetches chunks the local tiers miss from the store's remote tier (which keeps them locally), a few at once.</summary>
    private async Task FetchRemoteAsync(KvStore store, List<int> chunks, bool[] fromRemote, CancellationToken token)
    {
        using var slots = new SemaphoreSlim(RemoteFetchParallelism);
        var fetches = new Task[chunks.Count];
        for (int i = 0; i < fetches.Length; i++)
        {
            int chunk = chunks[i];
            fetches[i] = FetchOneAsync(chunk);
        }
        await Task.WhenAll(fetches).ConfigureAwait(false);

        async Task FetchOneAsync(int chunk)
        {
            await slots.WaitAsync(token).ConfigureAwait(false);
            try
            {
                // A prefix request stops at the first missing chunk: one known missing before this one makes it moot.
                if (!(_owner.Options.SkipChunksAfterMissing && chunk > Volatile.Read(ref _firstMissing)))
                {
                    _leases[chunk] = await store.GetAsync(_keys[chunk], ReadVerification.Header, token).ConfigureAwait(false);
                    fromRemote[chunk] = true;
                }
            }
            finally
            {
                slots.Release();
            }
        }
    }

    private bool Fits(ChunkRecordHeader header, int chunk)
    {
        KvDestination d = Destination;
        return header.Layout.Layers == d.Layers && header.Layout.KvDim == d.KvDim && header.TokenCount <= d.ChunkTokens
            && (long)chunk * d.ChunkTokens + header.TokenCount <= d.TokenCapacity;
    }

    /// <summary>Stages one section; false when its checksum fails (the store has counted and dropped the record).</summary>
    private async ValueTask<bool> StageAsync(ChannelWriter<StagedSection> writer, RecordLease lease, int chunk, int layer, SectionKind kind, CancellationToken token)
    {
        if (_decodeInPlace)
            return StageInPlace(writer, lease, chunk, layer, kind);
        StagingPool pool = _owner.Pool;
        long length = lease.Record.Sections[2 * layer + (int)kind].Length;
        if (length > pool.Budget)
        {
            throw new PrefetchException(PrefetchErrorKind.BudgetTooSmall,
                $"{nameof(PrefetcherOptions)}.{nameof(PrefetcherOptions.StagingBudgetBytes)} is {pool.Budget} bytes, less than one section: chunk {chunk} layer {layer} {(kind == SectionKind.Keys ? "K" : "V")} is {length} bytes. The budget must hold the largest section payload.");
        }
        StagingBuffer buffer = await pool.RentAsync((int)length, token).ConfigureAwait(false);
        try
        {
            if (!CopySection(lease, layer, kind, buffer))
            {
                pool.Return(buffer);
                return false;
            }
            Publish(writer, new StagedSection(buffer, lease.Record, chunk, layer, kind));
        }
        catch
        {
            pool.Return(buffer);
            throw;
        }
        return true;
    }

    /// <summary>Checks one section's checksum and hands the decoders the tier's own bytes (no staging copy); false when the checksum fails.</summary>
    private unsafe bool StageInPlace(ChannelWriter<StagedSection> writer, RecordLease lease, int chunk, int layer, SectionKind kind)
    {
        // The checksum is checked over the mapped bytes, which faults them in: this is the tier read.
        if (!lease.TryGetSection(layer, kind, out ReadOnlySpan<byte> payload))
            return false;
        // SAFETY: the payload lies in the record's memory map or memory-tier buffer, native memory that never moves; the
        // request holds the lease (and with it the mapping or the buffer, unchanged) until every stage has ended.
        byte* address = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(payload));
        Publish(writer, new StagedSection(address, payload.Length, lease.Record, chunk, layer, kind));
        return true;
    }

    /// <summary>Hands a checked section to the decoders; its layer counts it as in flight until it is decoded.</summary>
    private void Publish(ChannelWriter<StagedSection> writer, StagedSection section)
    {
        Interlocked.Increment(ref _layerPending[section.Layer]);
        if (!writer.TryWrite(section))
        {
            Interlocked.Decrement(ref _layerPending[section.Layer]);
            throw new InvalidOperationException("The decode channel closed while the reader was writing."); // Only this reader completes it.
        }
        _owner.CountStaged();
    }

    private static bool CopySection(RecordLease lease, int layer, SectionKind kind, StagingBuffer buffer)
    {
        // The checksum is checked over the mapped bytes, which faults them in: this is the tier read.
        if (!lease.TryGetSection(layer, kind, out ReadOnlySpan<byte> payload))
            return false;
        payload.CopyTo(buffer.Block);
        buffer.Length = payload.Length;
        return true;
    }
}
