using System.IO.Hashing;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

// Puts and deletes: validated on the caller's thread, executed by the writer (KvStore.Writer.cs).
public sealed partial class KvStore
{
    /// <summary>Stores a chunk record under the key in its header; returns once it is durable (per <see cref="KvStoreOptions.Durability"/>).</summary>
    /// <param name="record">Exactly one chunk record (format-spec/kvtier-format.md). The store copies it; the caller may reuse the buffer afterwards.</param>
    /// <returns>The record's key. A record already stored under that key is replaced.</returns>
    /// <exception cref="KvStoreException">The record is invalid or too large, the disk tier is full with eviction off, or an I/O error stopped the store.</exception>
    public ChunkKey Put(ReadOnlyMemory<byte> record) => PutAsync(record).AsTask().GetAwaiter().GetResult();

    /// <summary>Stores a chunk record; the task completes once it is durable. Concurrent puts share one sync (group commit).</summary>
    /// <param name="record">Exactly one chunk record. Keep the buffer unchanged until the task completes.</param>
    /// <param name="cancellationToken">
    /// Cancels the put only before it is queued. Once queued it runs to completion and the task waits for it: the writer
    /// reads the caller's buffer until then, so the task never completes while the buffer is still in use.
    /// </param>
    /// <inheritdoc cref="Put"/>
    public ValueTask<ChunkKey> PutAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        PutOp op = Prepare(record);
        Enqueue(op);
        WriteBehind(op.Done.Task);
        return new ValueTask<ChunkKey>(op.Done.Task);
    }

    /// <summary>
    /// Stores several records; returns their keys in order once all are durable (they usually share group commits).
    /// Every record's header is checked before any is stored; each record's sections are checked just before it is
    /// handed to the writer, so that checking the next record overlaps writing the previous one.
    /// </summary>
    /// <exception cref="KvStoreException">A record is invalid (records before it in the batch may be stored), or a put failed.</exception>
    public IReadOnlyList<ChunkKey> PutBatch(IReadOnlyList<ReadOnlyMemory<byte>> records) => PutBatchAsync(records).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc cref="PutBatch"/>
    public async ValueTask<IReadOnlyList<ChunkKey>> PutBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        cancellationToken.ThrowIfCancellationRequested();
        var parsed = new ChunkRecord[records.Count];
        for (int i = 0; i < parsed.Length; i++)
            parsed[i] = Parse(records[i]); // Headers first: a malformed batch is refused before anything is written.
        var ops = new PutOp[records.Count];
        for (int i = 0; i < ops.Length; i++)
        {
            ops[i] = Prepare(records[i], parsed[i]);
            Enqueue(ops[i]);
            WriteBehind(ops[i].Done.Task);
        }
        var keys = new ChunkKey[ops.Length];
        for (int i = 0; i < ops.Length; i++)
            keys[i] = await ops[i].Done.Task.ConfigureAwait(false); // Not cancellable: the writer may still read the buffers.
        return keys;
    }

    /// <summary>Checks a record before it reaches the writer: it is one valid record, within limits, every section intact.</summary>
    private PutOp Prepare(ReadOnlyMemory<byte> record, ChunkRecord? parsedHeader = null)
    {
        ChunkRecord parsed = parsedHeader ?? Parse(record);
        try
        {
            if (Options.VerifyOnPut)
            {
                foreach (SectionEntry section in parsed.Sections)
                    _ = parsed.GetPayload(section.Layer, section.Kind);
            }
        }
        catch (ChunkRecordException ex)
        {
            throw new KvStoreException(StoreErrorKind.InvalidRecord, $"not stored: {ex.Message}", ex);
        }
        return new PutOp(record, parsed.Header, XxHash3.HashToUInt64(record.Span));
    }

    private ChunkRecord Parse(ReadOnlyMemory<byte> record)
    {
        ThrowIfDisposed();
        if (record.Length > Options.EffectiveMaxRecordBytes)
            throw new KvStoreException(StoreErrorKind.RecordTooLarge,
                $"the record is {record.Length} bytes, over {nameof(KvStoreOptions)}.{nameof(KvStoreOptions.MaxRecordBytes)} ({Options.EffectiveMaxRecordBytes}).");
        if (SegmentFormat.RecordFrameSize(record.Length) > Options.DiskCapacityBytes)
            throw new KvStoreException(StoreErrorKind.RecordTooLarge,
                $"the record's {SegmentFormat.RecordFrameSize(record.Length)}-byte frame is over {nameof(KvStoreOptions)}.{nameof(KvStoreOptions.DiskCapacityBytes)} ({Options.DiskCapacityBytes}).");
        try
        {
            return ChunkRecord.Parse(record, "put", allowTrailingBytes: false, maxDecodedBytes: long.MaxValue);
        }
        catch (ChunkRecordException ex)
        {
            throw new KvStoreException(StoreErrorKind.InvalidRecord, $"not stored: {ex.Message}", ex);
        }
    }

    /// <summary>Deletes a record: durable (a tombstone in the segments and the index entry removed) when this returns.</summary>
    /// <returns>False when the key was not stored.</returns>
    public bool Delete(ChunkKey key) => DeleteAsync(key).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc cref="Delete"/>
    /// <param name="key">The record's key.</param>
    /// <param name="cancellationToken">Cancels waiting for the delete to be durable (it still happens once queued).</param>
    public ValueTask<bool> DeleteAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var op = new DeleteOp(key, evict: false);
        Enqueue(op);
        return new ValueTask<bool>(op.Done.Task.WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Evicts a record as capacity pressure would: its index entry goes, without a tombstone (the bytes become dead
    /// and compaction reclaims them). Counted in <see cref="StoreStatistics.Evictions"/>.
    /// </summary>
    /// <returns>False when the key was not stored.</returns>
    public bool Evict(ChunkKey key)
    {
        var op = new DeleteOp(key, evict: true);
        Enqueue(op);
        return op.Done.Task.GetAwaiter().GetResult();
    }

    /// <summary>A reader found the record with this sequence corrupt: count it and drop it from the index (a miss from now on).</summary>
    internal void ReportCorrupt(ChunkKey key, ulong sequence, string reason)
    {
        _ = reason;
        Interlocked.Increment(ref _corruptions);
        _memory.Remove(key);
        if (Volatile.Read(ref _disposed) != 0 || _writerFault is not null)
            return;
        try
        {
            _queue.Add(new DropCorruptOp(key, sequence));
        }
        catch (InvalidOperationException)
        {
            // Closing: the record is found corrupt again after the next open.
        }
    }
}
