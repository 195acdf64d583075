using KvTier.Keys;
using KvTier.Storage.Index;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

// Opening after a crash (format-spec/segment-file.md §6, metadata-schema.md §5).
public sealed partial class KvStore
{
    private void Recover()
    {
        ulong committedSequence = _index.ReadSequence();
        _accessTick = (long)_index.ReadAccessTick();
        _lifetimeBase = _index.ReadCounters();
        using StoreIndex.Batch batch = _index.CreateBatch();
        ulong maxId = 0;
        var known = new HashSet<ulong>();

        foreach ((ulong id, SegmentEntry entry) in _index.ReadSegments())
        {
            known.Add(id);
            maxId = Math.Max(maxId, id);
            string path = Path.Combine(SegmentDirectory, SegmentFormat.FileName(id));
            SegmentFile segment;
            try
            {
                segment = SegmentFile.Open(path, id, _storeId, out _);
            }
            catch (Exception ex) when (ex is SegmentFormatException or FileNotFoundException)
            {
                // The file is gone or is not this segment: its records are lost (each counted as corruption below);
                // a damaged file is kept aside for inspection, never deleted. Other I/O errors (permissions, a full
                // address space) propagate: they may be transient, and dropping the segment's records would lose data.
                if (File.Exists(path) && ex is SegmentFormatException)
                    File.Move(path, path + ".damaged", overwrite: true);
                batch.DeleteSegment(id);
                continue;
            }
            long fileLength = segment.FileLength;
            segment.State = entry.State;
            segment.CommittedEnd = Math.Min(entry.CommittedEnd, fileLength / SegmentFormat.BlockSize * SegmentFormat.BlockSize);
            segment.MinSequence = entry.MinSequence;
            segment.MaxSequence = entry.MaxSequence;
            _segments.Add(id, segment);
        }

        // Files the index does not know: a segment retired by compaction just before a crash (every frame in it is at
        // or below the committed sequence: delete it), or one created by a group that did not commit — or whose commit
        // the index lost — (frames above the committed sequence: adopt it, and its tail is recovered like an active
        // segment's). Never delete a file that may hold data the index does not.
        foreach (string file in Directory.GetFiles(SegmentDirectory).Order())
        {
            if (!SegmentFormat.TryParseFileName(Path.GetFileName(file), out ulong id) || known.Contains(id))
                continue;
            maxId = Math.Max(maxId, id);
            SegmentFile orphan;
            try
            {
                orphan = SegmentFile.Open(file, id, _storeId, out _);
            }
            catch (SegmentFormatException)
            {
                File.Delete(file); // Not even a header: a segment whose creation did not complete.
                continue;
            }
            if (HasFrameAbove(orphan, committedSequence))
            {
                orphan.ResetEnd(SegmentFormat.HeaderSize);
                _segments.Add(id, orphan);
            }
            else
            {
                orphan.CloseWhenUnleased();
                File.Delete(file);
            }
        }
        _nextSegmentId = maxId + 1;

        foreach ((ChunkKey key, ChunkEntry entry) in _index.ReadChunks())
        {
            if (!_segments.TryGetValue(entry.SegmentId, out SegmentFile? segment) || entry.Offset + entry.FrameSize > segment.CommittedEnd)
            {
                _corruptions++;
                batch.DeleteChunk(key);
                continue;
            }
            var record = new DiskRecord(key, entry);
            _records.Add(key, record);
            Account(entry, +1);
        }

        ulong maxSequence = committedSequence;
        foreach (SegmentFile segment in _segments.Values.Where(s => s.State == SegmentState.Active).OrderBy(s => s.Id))
            maxSequence = Math.Max(maxSequence, RecoverTail(segment, committedSequence, batch));
        _sequence = maxSequence;

        // One active segment at most: the newest; older ones (a crash between sealing and committing) are sealed.
        SegmentFile? newest = _segments.Values.Where(s => s.State == SegmentState.Active).MaxBy(s => s.Id);
        foreach (SegmentFile segment in _segments.Values)
        {
            if (segment.State == SegmentState.Active && !ReferenceEquals(segment, newest))
                segment.State = SegmentState.Sealed;
            batch.PutSegment(segment.Id, new SegmentEntry(segment.State, segment.CommittedEnd, segment.Capacity, segment.MinSequence, segment.MaxSequence));
        }
        _active = newest;
        batch.PutSequence(_sequence);
        _index.Commit(batch, sync: true);

        foreach (DiskRecord record in _records.Values.OrderBy(r => r.Entry.AccessTick))
            _lru.AddNewest(record);
        _accessTick = Math.Max(_accessTick, _records.Count == 0 ? 0 : (long)_records.Values.Max(r => r.Entry.AccessTick));
    }

    /// <summary>
    /// Checks the frames past a segment's committed end: complete frames from an uncommitted group are indexed (newest
    /// sequence wins; frames at or below the committed sequence are stale compaction copies and stay dead), and the file
    /// is cut at the first frame that is not complete and valid. Returns the largest sequence seen.
    /// </summary>
    private ulong RecoverTail(SegmentFile segment, ulong committedSequence, StoreIndex.Batch batch)
    {
        long fileLength = segment.FileLength;
        long position = segment.CommittedEnd;
        ulong maxSequence = committedSequence;
        while (SegmentScanner.TryReadFrame(segment, position, fileLength, verifyRecord: true, out SegmentFrame frame, out _))
        {
            segment.MinSequence = Math.Min(segment.MinSequence, frame.Sequence);
            segment.MaxSequence = Math.Max(segment.MaxSequence, frame.Sequence);
            maxSequence = Math.Max(maxSequence, frame.Sequence);
            if (frame.Sequence > committedSequence)
            {
                if (frame.Kind == FrameKind.Record)
                {
                    ChunkKey key = frame.Header!.Key;
                    if (!_records.TryGetValue(key, out DiskRecord? existing) || existing.Entry.Sequence < frame.Sequence)
                    {
                        var entry = new ChunkEntry(frame.Header.KeyKind, (byte)frame.Header.Codec, (byte)frame.Header.Level, frame.Header.TokenCount,
                            segment.Id, frame.Offset, frame.RecordLength, frame.Sequence, frame.Sequence, frame.RecordChecksum);
                        if (existing is not null)
                        {
                            Account(existing.Entry, -1);
                            existing.Entry = entry;
                        }
                        else
                        {
                            _records.Add(key, new DiskRecord(key, entry));
                        }
                        Account(entry, +1);
                        batch.PutChunk(key, entry);
                        _recoveredRecords++;
                    }
                }
                else
                {
                    foreach (ChunkKey key in SegmentScanner.TombstoneKeys(segment, frame))
                    {
                        if (_records.TryGetValue(key, out DiskRecord? existing) && existing.Entry.Sequence < frame.Sequence)
                        {
                            Account(existing.Entry, -1);
                            _records.Remove(key);
                            batch.DeleteChunk(key);
                        }
                    }
                }
            }
            position = frame.Offset + frame.Size;
        }
        if (position < fileLength)
        {
            _truncatedBytes += fileLength - position;
            segment.Truncate(position);
        }
        segment.ResetEnd(position);
        return maxSequence;
    }

    /// <summary>Whether a segment file holds any valid frame with a sequence above <paramref name="sequence"/> (walking without resynchronizing).</summary>
    private static bool HasFrameAbove(SegmentFile segment, ulong sequence)
    {
        long length = segment.FileLength;
        long position = SegmentFormat.HeaderSize;
        while (SegmentScanner.TryReadFrame(segment, position, length, verifyRecord: false, out SegmentFrame frame, out _))
        {
            if (frame.Sequence > sequence)
                return true;
            position = frame.Offset + frame.Size;
        }
        return false;
    }

    /// <summary>Work that needs the writer, right after open: evict to (a possibly smaller) capacity, consider compaction.</summary>
    private void AfterOpen()
    {
        bool over;
        lock (_lock)
            over = _liveBytes > Options.DiskCapacityBytes;
        if (over)
            _queue.Add(new MaintenanceOp()); // Its group evicts to capacity.
        ScheduleBackgroundCompaction();
    }
}
