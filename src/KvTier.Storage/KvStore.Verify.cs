using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage.Index;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

// Verification of an open store: every segment walked, every indexed record checked against its frame, its checksums
// and the RocksDB entry.
public sealed partial class KvStore
{
    /// <summary>
    /// Checks every record and every segment: each indexed record's bytes against its checksum, header, every section
    /// checksum, trailer and RocksDB entry; each segment's committed region frame by frame. Read-only by default (a
    /// corrupt record is a miss on get anyway, and a second verify reports the same problems); with
    /// <paramref name="dropCorrupt"/>, corrupt records are also dropped from the index and counted in
    /// <see cref="StoreStatistics.CorruptionEvents"/>. Runs concurrently with other operations.
    /// </summary>
    /// <param name="progress">Hears segment bytes walked.</param>
    /// <param name="cancellationToken">Stops the walk.</param>
    /// <param name="dropCorrupt">Drop corrupt records from the index.</param>
    public VerifyResult Verify(IProgress<StoreProgress>? progress = null, CancellationToken cancellationToken = default, bool dropCorrupt = false)
    {
        ThrowIfDisposed();
        List<SegmentFile> segments;
        Dictionary<ulong, List<DiskRecord>> bySegment = [];
        lock (_lock)
        {
            segments = [.. _segments.Values.OrderBy(s => s.Id)];
            foreach (DiskRecord r in _records.Values)
            {
                if (!bySegment.TryGetValue(r.Entry.SegmentId, out List<DiskRecord>? list))
                    bySegment[r.Entry.SegmentId] = list = [];
                list.Add(r);
            }
        }
        long total = segments.Sum(s => s.DataBytes);
        long done = 0, recordsChecked = 0, damaged = 0, bytesChecked = 0;
        int segmentsChecked = 0;
        var problems = new List<VerifyProblem>();
        var corrupt = new HashSet<ChunkKey>();
        foreach (SegmentFile segment in segments)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!segment.TryAcquire())
                continue; // Compacted away meanwhile.
            try
            {
                long end = segment.CommittedEnd;
                var frames = new Dictionary<long, SegmentFrame>();
                foreach (SegmentFrame frame in SegmentScanner.Walk(segment, SegmentFormat.HeaderSize, end, verifyRecords: false,
                    (offset, length, reason) =>
                    {
                        damaged += length;
                        problems.Add(new VerifyProblem(null, segment.Id, offset, $"{length} bytes hold no valid frame: {reason}"));
                    }))
                {
                    frames[frame.Offset] = frame;
                    done += frame.Size;
                    progress?.Report(new StoreProgress("verifying", done, total, "bytes"));
                }
                bytesChecked += end - SegmentFormat.HeaderSize;
                segmentsChecked++;
                foreach (DiskRecord record in bySegment.GetValueOrDefault(segment.Id) ?? [])
                {
                    ChunkEntry entry;
                    lock (_lock)
                        entry = record.Entry;
                    // Moved by compaction meanwhile, or replaced by a frame appended after this segment's walk: not
                    // checked in this run.
                    if (entry.SegmentId != segment.Id || entry.Offset + entry.FrameSize > end)
                        continue;
                    recordsChecked++;
                    string? problem = CheckRecord(segment, record.Key, entry, frames);
                    if (problem is not null)
                        WaitForCommittedGroupsToPublish(); // A change RocksDB has and _records does not yet is no damage.
                    if (problem is not null && StillIndexedAs(record, entry))
                    {
                        corrupt.Add(record.Key);
                        problems.Add(new VerifyProblem(record.Key.ToString(), segment.Id, entry.Offset, problem));
                        if (dropCorrupt)
                            ReportCorrupt(record.Key, entry.Sequence, problem);
                    }
                }
            }
            finally
            {
                segment.Release();
            }
        }
        problems.Sort((a, b) => a.SegmentId != b.SegmentId ? a.SegmentId.CompareTo(b.SegmentId) : a.Offset.CompareTo(b.Offset));
        return new VerifyResult(recordsChecked, corrupt.Count, segmentsChecked, bytesChecked, damaged, problems);
    }

    /// <summary>Waits until every group whose index batch was written by now is visible in <c>_records</c> (or the writer has failed).</summary>
    private void WaitForCommittedGroupsToPublish()
    {
        long committing = Interlocked.Read(ref _groupsCommitting);
        SpinWait.SpinUntil(() => Interlocked.Read(ref _groupsPublished) >= committing || _writerFault is not null);
    }

    private bool StillIndexedAs(DiskRecord record, in ChunkEntry entry)
    {
        lock (_lock)
            return _records.TryGetValue(record.Key, out DiskRecord? now) && now.Entry with { AccessTick = 0 } == entry with { AccessTick = 0 };
    }

    private string? CheckRecord(SegmentFile segment, ChunkKey key, in ChunkEntry entry, Dictionary<long, SegmentFrame> frames)
    {
        if (!frames.TryGetValue(entry.Offset, out SegmentFrame frame) || frame.Kind != FrameKind.Record)
            return "no valid record frame starts at the indexed offset";
        if (frame.Sequence != entry.Sequence || frame.RecordLength != entry.RecordLength || frame.RecordChecksum != entry.RecordChecksum)
            return "the frame's sequence, length or checksum differs from the index entry";
        if (frame.Header!.Key != key)
            return $"the frame holds key {frame.Header.Key}";
        ReadOnlySpan<byte> bytes = segment.Span(entry.Offset, (int)entry.RecordLength);
        if (System.IO.Hashing.XxHash3.HashToUInt64(bytes) != entry.RecordChecksum)
            return "the record's bytes do not match its checksum";
        try
        {
            unsafe
            {
                // SAFETY: the caller holds a lease on the segment; the range is below its committed end.
                var memory = new Memory.NativeMemoryManager(segment.Pointer(entry.Offset), (int)entry.RecordLength).Memory;
                ChunkRecord record = ChunkRecord.Parse(memory, segment.Path, maxDecodedBytes: long.MaxValue);
                foreach (SectionEntry section in record.Sections)
                    _ = record.GetPayload(section.Layer, section.Kind);
            }
        }
        catch (ChunkRecordException ex)
        {
            return ex.Message;
        }
        ChunkEntry? stored = _index.GetChunk(key);
        if (stored is null)
            return "RocksDB has no entry for this record";
        if (stored.Value with { AccessTick = 0 } != entry with { AccessTick = 0 })
            return "the RocksDB entry differs from the store's view";
        return null;
    }
}
