using KvTier.Keys;
using KvTier.Storage.Index;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

// Compaction (format-spec/segment-file.md §7): live records of low-live segments are copied forward by the writer, a
// step at a time between other groups; the old file is deleted once no lease holds it. Readers are never blocked.
public sealed partial class KvStore
{
    /// <summary>
    /// Compacts every segment whose live fraction is below <paramref name="minLiveFraction"/> (the active one included:
    /// it is sealed first), and waits for it. Puts and gets continue meanwhile.
    /// </summary>
    /// <param name="minLiveFraction">In (0, 1]; default <see cref="KvStoreOptions.CompactionMinLiveFraction"/>. 1 compacts any segment with dead bytes.</param>
    /// <param name="progress">Hears bytes of candidate segments processed.</param>
    /// <param name="cancellationToken">Stops after the current step; what was compacted stays compacted.</param>
    public CompactionResult Compact(double? minLiveFraction = null, IProgress<StoreProgress>? progress = null, CancellationToken cancellationToken = default) =>
        CompactAsync(minLiveFraction, progress, cancellationToken).GetAwaiter().GetResult();

    /// <inheritdoc cref="Compact"/>
    public Task<CompactionResult> CompactAsync(double? minLiveFraction = null, IProgress<StoreProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        double fraction = minLiveFraction ?? Options.CompactionMinLiveFraction;
        if (!(fraction > 0 && fraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(minLiveFraction), fraction, "The minimum live fraction must be in (0, 1].");
        var op = new CompactOp(fraction, includeActive: true, background: false, progress, cancellationToken);
        Enqueue(op);
        return op.Done.Task;
    }

    private void ScheduleBackgroundCompaction()
    {
        if (!Options.BackgroundCompaction || Volatile.Read(ref _disposed) != 0)
            return;
        bool due;
        lock (_lock)
            due = _segments.Values.Any(s => s.State == SegmentState.Sealed && s.LiveFraction < Options.CompactionMinLiveFraction);
        if (due && Interlocked.CompareExchange(ref _compactionQueued, 1, 0) == 0)
        {
            try
            {
                _queue.Add(new CompactOp(Options.CompactionMinLiveFraction, includeActive: false, background: true, null, CancellationToken.None));
            }
            catch (InvalidOperationException)
            {
                _compactionQueued = 0; // Closing.
            }
        }
    }

    private void ProcessCompactionStep(Group group, CompactOp op)
    {
        if (op.Pending is null)
            SelectCompactionCandidates(group, op);
        long budget = Options.MaxGroupCommitBytes;
        while (budget > 0)
        {
            if (op.Cancellation.IsCancellationRequested || Volatile.Read(ref _disposed) != 0)
            {
                FinishCompaction(group, op, cancelled: true);
                return;
            }
            if (op.Current is null || op.Current.State == SegmentState.Retired)
            {
                op.Current = null;
                if (!op.Pending!.TryDequeue(out ulong id))
                {
                    FinishCompaction(group, op, cancelled: false);
                    return;
                }
                lock (_lock)
                {
                    if (!_segments.TryGetValue(id, out SegmentFile? next) || next.State != SegmentState.Sealed)
                        continue;
                    op.Current = next;
                }
                op.Cursor = SegmentFormat.HeaderSize;
            }
            SegmentFile segment = op.Current;
            if (op.Cursor >= segment.CommittedEnd)
            {
                RetireSegment(group, segment);
                op.SegmentsCompacted++;
                op.BytesReclaimed += segment.CommittedEnd;
                op.Current = null;
                continue;
            }
            if (!SegmentScanner.TryReadFrame(segment, op.Cursor, segment.CommittedEnd, verifyRecord: false, out SegmentFrame frame, out _))
            {
                op.DamagedBytes += SegmentFormat.BlockSize;
                op.Cursor += SegmentFormat.BlockSize;
                op.DoneBytes += SegmentFormat.BlockSize;
                continue;
            }
            if (frame.Kind == FrameKind.Record)
                budget -= CopyIfLive(group, op, segment, frame);
            else if (TombstoneStillNeeded(segment, frame.Sequence))
            {
                AppendTombstone(group, frame.Sequence, SegmentScanner.TombstoneKeys(segment, frame));
                op.TombstonesCarried++;
                op.BytesCopied += frame.Size;
                budget -= frame.Size;
            }
            op.Cursor += frame.Size;
            op.DoneBytes += frame.Size;
            op.Progress?.Report(new StoreProgress("compacting", op.DoneBytes, op.TotalBytes, "bytes"));
        }
        group.Requeue.Add(op);
    }

    private void SelectCompactionCandidates(Group group, CompactOp op)
    {
        List<SegmentFile> candidates;
        lock (_lock)
        {
            candidates = _segments.Values
                .Where(s => (s.State == SegmentState.Sealed || (op.IncludeActive && ReferenceEquals(s, _active) && s.DataBytes > 0))
                    && s.LiveFraction < op.MinLiveFraction)
                .OrderBy(s => s.LiveFraction)
                .ToList();
        }
        if (_active is { } active && candidates.Contains(active))
        {
            active.State = SegmentState.Sealed; // Copies go to a new active segment.
            group.Touched.Add(active);
            _active = null;
        }
        op.Pending = new Queue<ulong>(candidates.Select(s => s.Id));
        op.TotalBytes = candidates.Sum(s => s.DataBytes);
        op.Progress?.Report(new StoreProgress("compacting", 0, op.TotalBytes, "bytes"));
    }

    private long CopyIfLive(Group group, CompactOp op, SegmentFile segment, in SegmentFrame frame)
    {
        ChunkKey key = frame.Header!.Key;
        if (!TryCurrent(group, key, out ChunkEntry entry) || entry.SegmentId != segment.Id || entry.Offset != frame.Offset)
            return 0; // Dead: deleted, evicted or replaced.
        ReadOnlySpan<byte> bytes = segment.Span(frame.Offset, (int)entry.RecordLength);
        if (System.IO.Hashing.XxHash3.HashToUInt64(bytes) != entry.RecordChecksum || frame.Sequence != entry.Sequence)
        {
            DropCorruptInGroup(group, key, entry); // Never copy bad bytes forward.
            return 0;
        }
        SegmentFile target = EnsureActive(group, frame.Size);
        long offset = AppendRecordFrame(target, bytes, entry.Sequence, entry.RecordChecksum);
        ChunkEntry moved = entry with { SegmentId = target.Id, Offset = offset };
        group.Batch.PutChunk(key, moved);
        group.View[key] = moved;
        group.Changes.Add(new Change(ChangeKind.Move, key, moved, default));
        op.RecordsMoved++;
        op.BytesCopied += frame.Size;
        return frame.Size;
    }

    private void DropCorruptInGroup(Group group, ChunkKey key, in ChunkEntry entry)
    {
        Interlocked.Increment(ref _corruptions);
        group.Batch.DeleteChunk(key);
        group.View[key] = null;
        group.Changes.Add(new Change(ChangeKind.DropCorrupt, key, entry, default));
        group.LiveDelta -= entry.FrameSize;
        group.Removed = true;
    }

    /// <summary>
    /// A tombstone must be carried forward while some other segment may hold an older record it deletes: any segment
    /// whose smallest sequence is below the tombstone's.
    /// </summary>
    private bool TombstoneStillNeeded(SegmentFile holder, ulong sequence)
    {
        lock (_lock)
        {
            foreach (SegmentFile s in _segments.Values)
            {
                if (!ReferenceEquals(s, holder) && s.State != SegmentState.Retired && s.MinSequence < sequence)
                    return true;
            }
        }
        return false;
    }

    private void RetireSegment(Group group, SegmentFile segment)
    {
        // Records the walk could not reach (a damaged frame header) still point here: they are lost, not served.
        List<(ChunkKey Key, ChunkEntry Entry)> stranded = [];
        lock (_lock)
        {
            foreach (DiskRecord r in _records.Values)
            {
                if (r.Entry.SegmentId == segment.Id && !group.View.ContainsKey(r.Key))
                    stranded.Add((r.Key, r.Entry));
            }
        }
        foreach ((ChunkKey key, ChunkEntry entry) in stranded)
            DropCorruptInGroup(group, key, entry);
        segment.State = SegmentState.Retired;
        group.Batch.DeleteSegment(segment.Id);
        group.Retired.Add(segment);
        Interlocked.Increment(ref _segmentsCompacted);
    }

    private void FinishCompaction(Group group, CompactOp op, bool cancelled)
    {
        if (op.Background)
            group.Completions.Add(() => Volatile.Write(ref _compactionQueued, 0));
        if (cancelled)
            group.Completions.Add(() => op.Done.TrySetCanceled(op.Cancellation));
        else
            group.Completions.Add(() => op.Done.TrySetResult(op.Result()));
    }
}
