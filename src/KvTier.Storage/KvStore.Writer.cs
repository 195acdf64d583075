using System.Buffers;
using KvTier.Keys;
using KvTier.Storage.Index;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

// The writer thread: group commit (format-spec/segment-file.md §6). Everything that changes the segments or the index
// happens here, one group at a time: append frames, fdatasync the touched segments, one RocksDB write batch, then
// publish the changes to readers and complete the waiting operations.
public sealed partial class KvStore
{
    private const int MaxAccessUpdatesPerGroup = 4096;

    // Groups whose index batch has been (or is being) written, and groups published to readers: between the two, RocksDB
    // is ahead of _records, which verification must not mistake for damage (KvStore.Verify.cs).
    private long _groupsCommitting, _groupsPublished;

    // The O_DIRECT staging buffer, allocated on the first large frame; writer thread only, freed at close.
    private DirectWriteBuffer? _staging;

    // Segments appended to by unsynced (NoSync) groups since the last sync; writer thread only.
    private readonly HashSet<SegmentFile> _unsynced = [];

    private enum ChangeKind
    {
        Put,
        Delete,
        Evict,
        Move,
        DropCorrupt,
    }

    private readonly record struct Change(ChangeKind Kind, ChunkKey Key, ChunkEntry Entry, ReadOnlyMemory<byte> Bytes);

    /// <summary>One group commit's pending work.</summary>
    private sealed class Group(StoreIndex.Batch batch)
    {
        public StoreIndex.Batch Batch { get; } = batch;

        public Dictionary<ChunkKey, ChunkEntry?> View { get; } = [];

        public List<Change> Changes { get; } = [];

        public HashSet<SegmentFile> Touched { get; } = [];

        public List<SegmentFile> Retired { get; } = [];

        public List<ChunkKey> PendingTombstone { get; } = [];

        public List<Action> Completions { get; } = [];

        public List<WriteOp> Requeue { get; } = [];

        public long LiveDelta { get; set; }

        public bool Removed { get; set; }
    }

    private Task Submit(FlushOp op, bool allowClosed = false)
    {
        Enqueue(op, allowClosed);
        return op.Done.Task;
    }

    private void Enqueue(WriteOp op, bool allowClosed = false)
    {
        if (!allowClosed)
            ThrowIfDisposed();
        if (_writerFault is { } fault)
            throw WriterFailed(fault);
        try
        {
            _queue.Add(op);
        }
        catch (InvalidOperationException)
        {
            throw new KvStoreException(StoreErrorKind.Closed, "the store is closed.");
        }
    }

    private static KvStoreException WriterFailed(Exception fault) =>
        new(StoreErrorKind.Closed, $"the store stopped accepting writes after an I/O failure ({fault.Message}); reopen it. Acknowledged records are intact.", fault);

    private void WriterLoop()
    {
        var group = new List<WriteOp>();
        while (true)
        {
            WriteOp first;
            try
            {
                first = _queue.Take();
            }
            catch (InvalidOperationException)
            {
                return; // Completed and drained.
            }
            group.Clear();
            group.Add(first);
            long bytes = first.Bytes;
            while (first is not CompactOp && group.Count < Options.MaxGroupCommitRecords && bytes < Options.MaxGroupCommitBytes && _queue.TryTake(out WriteOp? next))
            {
                group.Add(next);
                bytes += next.Bytes;
                if (next is CompactOp)
                    break;
            }
            if (_writerFault is { } fault)
            {
                foreach (WriteOp op in group)
                    op.Fail(WriterFailed(fault));
                continue;
            }
            try
            {
                CommitGroup(group);
            }
            catch (Exception ex)
            {
                // An I/O failure (or fsync failure: the page cache can no longer be trusted) stops all writes; what was
                // acknowledged before is durable, and reads continue.
                _writerFault = ex;
                var error = ex as KvStoreException ?? new KvStoreException(StoreErrorKind.Io, $"a write to {Options.Directory} failed: {ex.Message}", ex);
                foreach (WriteOp op in group)
                    op.Fail(error);
            }
        }
    }

    private void CommitGroup(List<WriteOp> ops)
    {
        using StoreIndex.Batch batch = _index.CreateBatch();
        var group = new Group(batch);
        bool drainAllAccess = false, maintenance = false;
        var flushes = new List<FlushOp>();
        foreach (WriteOp op in ops)
        {
            drainAllAccess |= op is FlushOp;
            maintenance |= op is MaintenanceOp;
        }
        // Access-time updates first: later puts and deletes in this batch override them (metadata-schema.md §2).
        PersistAccessTicks(group, drainAllAccess ? int.MaxValue : MaxAccessUpdatesPerGroup);

        foreach (WriteOp op in ops)
        {
            switch (op)
            {
                case PutOp put:
                    ProcessPut(group, put);
                    break;
                case DeleteOp delete:
                    ProcessDelete(group, delete);
                    break;
                case DropCorruptOp drop:
                    ProcessDropCorrupt(group, drop);
                    break;
                case FlushOp flush:
                    flushes.Add(flush);
                    break;
                case CompactOp compact when ReferenceEquals(op, ops[0]):
                    ProcessCompactionStep(group, compact);
                    break;
                case CompactOp compact:
                    group.Requeue.Add(compact);
                    break;
            }
        }
        FlushTombstones(group);
        Interlocked.Increment(ref _groupsCommitting);
        Commit(group, forceSync: drainAllAccess);
        Publish(group);
        Interlocked.Increment(ref _groupsPublished);
        try
        {
            // Evict before acknowledging: when a put returns, the disk tier is within its capacity again.
            if (group.Removed || group.LiveDelta > 0 || maintenance)
                AfterChanges();
        }
        finally
        {
            // The group is durable whatever eviction did: acknowledge it (a later failure cannot un-store it).
            foreach (Action complete in group.Completions)
                complete();
            foreach (WriteOp op in group.Requeue)
            {
                try
                {
                    _queue.Add(op);
                }
                catch (InvalidOperationException)
                {
                    op.Fail(new KvStoreException(StoreErrorKind.Closed, "the store closed before the operation finished."));
                }
            }
            // A flush completes last: the evictions this group's changes (or a maintenance request queued before the
            // flush) call for are committed by now, as "everything submitted before" promises.
            foreach (FlushOp flush in flushes)
                flush.Done.TrySetResult(true);
        }
    }

    /// <summary>
    /// Syncs the touched segments, then writes the index batch: after this the group is durable. Under
    /// <see cref="DurabilityMode.NoSync"/> only a flush syncs, and then everything appended since the last sync.
    /// </summary>
    private void Commit(Group group, bool forceSync)
    {
        bool sync = forceSync || Options.Durability == DurabilityMode.GroupCommit;
        foreach (SegmentFile segment in group.Touched)
        {
            if (segment.State == SegmentState.Retired)
                continue;
            if (sync && segment.End > segment.CommittedEnd)
                segment.Sync();
            else if (!sync)
                _unsynced.Add(segment);
            group.Batch.PutSegment(segment.Id, new SegmentEntry(segment.State, segment.End, segment.Capacity, segment.MinSequence, segment.MaxSequence));
        }
        if (sync)
        {
            foreach (SegmentFile segment in _unsynced)
            {
                if (segment.State != SegmentState.Retired && segment.TryAcquire())
                {
                    segment.Sync();
                    segment.Release();
                }
            }
            _unsynced.Clear();
        }
        group.Batch.PutSequence(_sequence);
        group.Batch.PutCounters(LifetimeCounters());
        group.Batch.PutAccessTick((ulong)Interlocked.Read(ref _accessTick));
        _index.Commit(group.Batch, sync);
        Interlocked.Increment(ref _groupCommits);
    }

    /// <summary>Makes a committed group visible to readers.</summary>
    private void Publish(Group group)
    {
        lock (_lock)
        {
            foreach (SegmentFile segment in group.Touched)
                segment.CommittedEnd = segment.End;
            foreach (Change change in group.Changes)
            {
                _records.TryGetValue(change.Key, out DiskRecord? existing);
                if (existing is not null)
                    Account(existing.Entry, -1);
                switch (change.Kind)
                {
                    case ChangeKind.Put:
                        if (existing is null)
                        {
                            existing = new DiskRecord(change.Key, change.Entry);
                            _records.Add(change.Key, existing);
                            _lru.AddNewest(existing);
                        }
                        else
                        {
                            existing.Entry = change.Entry;
                            _lru.Touch(existing);
                        }
                        Account(change.Entry, +1);
                        break;
                    case ChangeKind.Move when existing is not null:
                        existing.Entry = change.Entry with { AccessTick = existing.Entry.AccessTick };
                        Account(change.Entry, +1);
                        break;
                    default:
                        if (existing is not null)
                        {
                            _records.Remove(change.Key);
                            _lru.Remove(existing);
                        }
                        break;
                }
            }
            foreach (SegmentFile segment in group.Retired)
            {
                _segments.Remove(segment.Id);
                if (ReferenceEquals(_active, segment))
                    _active = null;
            }
        }
        foreach (SegmentFile segment in group.Retired)
            segment.Retire();
        foreach (Change change in group.Changes)
        {
            switch (change.Kind)
            {
                case ChangeKind.Put:
                    Interlocked.Increment(ref _puts);
                    if (Options.MemoryCapacityBytes > 0)
                        _memory.Insert(change.Key, change.Bytes.Span, change.Entry.Sequence, verified: Options.VerifyOnPut);
                    break;
                case ChangeKind.Delete:
                    Interlocked.Increment(ref _deletes);
                    _memory.Remove(change.Key);
                    break;
                case ChangeKind.Evict:
                    Interlocked.Increment(ref _evictions);
                    _memory.Remove(change.Key);
                    break;
                case ChangeKind.DropCorrupt:
                    _memory.Remove(change.Key);
                    break;
            }
        }
    }

    /// <summary>Adds (+1) or removes (−1) a record's frame from the live-byte accounting. Under <c>_lock</c>.</summary>
    private void Account(in ChunkEntry entry, int sign)
    {
        long frame = entry.FrameSize;
        _liveBytes += sign * frame;
        if (_segments.TryGetValue(entry.SegmentId, out SegmentFile? segment))
        {
            segment.LiveBytes += sign * frame;
            segment.LiveRecords += sign;
        }
    }

    private bool TryCurrent(Group group, ChunkKey key, out ChunkEntry entry)
    {
        if (group.View.TryGetValue(key, out ChunkEntry? pending))
        {
            entry = pending.GetValueOrDefault();
            return pending.HasValue;
        }
        lock (_lock)
        {
            if (_records.TryGetValue(key, out DiskRecord? record))
            {
                entry = record.Entry;
                return true;
            }
        }
        entry = default;
        return false;
    }

    private void ProcessPut(Group group, PutOp put)
    {
        long length = put.Record.Length;
        long frame = SegmentFormat.RecordFrameSize(length);
        ChunkKey key = put.Header.Key;
        long replaced = TryCurrent(group, key, out ChunkEntry old) ? old.FrameSize : 0;
        if (Options.Eviction == EvictionPolicy.None)
        {
            long live;
            lock (_lock)
                live = _liveBytes;
            if (live + group.LiveDelta + frame - replaced > Options.DiskCapacityBytes)
            {
                put.Fail(new KvStoreException(StoreErrorKind.Full,
                    $"the disk tier is full: {live + group.LiveDelta} of {Options.DiskCapacityBytes} bytes ({nameof(KvStoreOptions)}.{nameof(KvStoreOptions.DiskCapacityBytes)}) are live and eviction is off."));
                return;
            }
        }
        FlushTombstones(group);
        SegmentFile segment = EnsureActive(group, frame);
        ulong sequence = ++_sequence;
        long offset = AppendRecordFrame(segment, put.Record.Span, sequence, put.Checksum);
        ulong tick = (ulong)Interlocked.Increment(ref _accessTick);
        var entry = new ChunkEntry(put.Header.KeyKind, (byte)put.Header.Codec, (byte)put.Header.Level, put.Header.TokenCount, segment.Id, offset, length, sequence, tick, put.Checksum);
        group.Batch.PutChunk(key, entry);
        group.View[key] = entry;
        group.Changes.Add(new Change(ChangeKind.Put, key, entry, put.Record));
        group.LiveDelta += frame - replaced;
        group.Removed |= replaced > 0;
        group.Completions.Add(() => put.Done.TrySetResult(key));
    }

    private long AppendRecordFrame(SegmentFile segment, ReadOnlySpan<byte> record, ulong sequence, ulong checksum)
    {
        long frame = SegmentFormat.RecordFrameSize(record.Length);
        int tailLength = (int)(frame - record.Length);
        byte[] tail = ArrayPool<byte>.Shared.Rent(tailLength);
        try
        {
            Span<byte> span = tail.AsSpan(0, tailLength);
            span.Clear();
            int trailerAt = (int)(SegmentFormat.TrailerOffset(record.Length) - record.Length);
            SegmentFormat.WriteTrailer(span[trailerAt..], sequence, record.Length, checksum);
            long offset = segment.AppendRecord(record, span, frame >= SegmentFile.DirectWriteThreshold ? _staging ??= new DirectWriteBuffer() : null);
            NoteSequence(segment, sequence);
            Interlocked.Add(ref _bytesWritten, frame);
            return offset;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(tail);
        }
    }

    private static void NoteSequence(SegmentFile segment, ulong sequence)
    {
        segment.MinSequence = Math.Min(segment.MinSequence, sequence);
        segment.MaxSequence = Math.Max(segment.MaxSequence, sequence);
    }

    private void ProcessDelete(Group group, DeleteOp delete)
    {
        if (!TryCurrent(group, delete.Key, out ChunkEntry entry))
        {
            group.Completions.Add(() => delete.Done.TrySetResult(false));
            return;
        }
        if (!delete.Evict)
            group.PendingTombstone.Add(delete.Key);
        group.Batch.DeleteChunk(delete.Key);
        group.View[delete.Key] = null;
        group.Changes.Add(new Change(delete.Evict ? ChangeKind.Evict : ChangeKind.Delete, delete.Key, entry, default));
        group.LiveDelta -= entry.FrameSize;
        group.Removed = true;
        group.Completions.Add(() => delete.Done.TrySetResult(true));
    }

    private void ProcessDropCorrupt(Group group, DropCorruptOp drop)
    {
        if (!TryCurrent(group, drop.Key, out ChunkEntry entry) || entry.Sequence != drop.Sequence)
            return; // Already replaced, deleted or dropped.
        group.Batch.DeleteChunk(drop.Key);
        group.View[drop.Key] = null;
        group.Changes.Add(new Change(ChangeKind.DropCorrupt, drop.Key, entry, default));
        group.LiveDelta -= entry.FrameSize;
        group.Removed = true;
    }

    /// <summary>Writes the deletes gathered so far as one tombstone frame, so that a later put of the same key in this group gets a higher sequence.</summary>
    private void FlushTombstones(Group group)
    {
        if (group.PendingTombstone.Count == 0)
            return;
        for (int start = 0; start < group.PendingTombstone.Count; start += SegmentFormat.MaxTombstoneKeys)
        {
            int count = Math.Min(SegmentFormat.MaxTombstoneKeys, group.PendingTombstone.Count - start);
            AppendTombstone(group, ++_sequence, group.PendingTombstone.GetRange(start, count).ToArray());
        }
        group.PendingTombstone.Clear();
    }

    private void AppendTombstone(Group group, ulong sequence, ChunkKey[] keys)
    {
        long size = SegmentFormat.TombstoneFrameSize(keys.Length);
        SegmentFile segment = EnsureActive(group, size);
        byte[] frame = new byte[size];
        SegmentFormat.WriteTombstone(frame, sequence, keys);
        segment.Append(frame);
        segment.TombstoneBytes += size;
        NoteSequence(segment, sequence);
        Interlocked.Add(ref _bytesWritten, size);
    }

    /// <summary>The segment the next frame of <paramref name="frameSize"/> bytes goes to, sealing a full one and starting a new one.</summary>
    private SegmentFile EnsureActive(Group group, long frameSize)
    {
        if (_active is { } active && active.Fits(frameSize))
        {
            group.Touched.Add(active);
            return active;
        }
        if (_active is { } full)
        {
            full.State = SegmentState.Sealed;
            group.Touched.Add(full);
        }
        var segment = SegmentFile.Create(SegmentDirectory, _nextSegmentId++, _storeId, Options.SegmentSizeBytes);
        lock (_lock)
            _segments.Add(segment.Id, segment);
        _active = segment;
        group.Touched.Add(segment);
        return segment;
    }

    private void PersistAccessTicks(Group group, int most)
    {
        lock (_lock)
        {
            int taken = Math.Min(most, _dirtyAccess.Count);
            for (int i = 0; i < taken; i++)
            {
                DiskRecord record = _dirtyAccess[i];
                record.AccessDirty = false;
                if (_records.TryGetValue(record.Key, out DiskRecord? current) && ReferenceEquals(current, record))
                    group.Batch.PutChunk(record.Key, record.Entry);
            }
            _dirtyAccess.RemoveRange(0, taken);
        }
    }

    /// <summary>After a group that added or removed bytes: evict to capacity, then consider background compaction.</summary>
    private void AfterChanges()
    {
        EvictToCapacity();
        ScheduleBackgroundCompaction();
    }

    private void EvictToCapacity()
    {
        if (Options.Eviction != EvictionPolicy.Lru)
            return;
        var victims = new List<DeleteOp>();
        lock (_lock)
        {
            long excess = _liveBytes - Options.DiskCapacityBytes;
            for (DiskRecord? r = _lru.Oldest; r is not null && excess > 0; r = r.Newer)
            {
                victims.Add(new DeleteOp(r.Key, evict: true));
                excess -= r.Entry.FrameSize;
            }
        }
        if (victims.Count > 0)
            CommitGroup([.. victims]);
    }
}
