using KvTier.Keys;
using KvTier.Storage.Index;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

// Rebuilding the index from the segment files alone (format-spec/metadata-schema.md §6).
public sealed partial class KvStore
{
    /// <summary>
    /// Rebuilds the RocksDB index of the store in <paramref name="directory"/> from its segment files alone: every
    /// valid frame is read (damaged blocks are skipped, not fatal), the newest version of each key wins, tombstones
    /// delete what is older than them, and the newest segment's torn tail is cut. The old index is kept as
    /// <c>index.damaged</c>. The store must not be open.
    /// </summary>
    /// <exception cref="KvStoreException">The directory is locked, or holds no segment files.</exception>
    public static RepairResult Repair(string directory, IProgress<StoreProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        UnixFile.EnsureSupported();
        directory = Path.GetFullPath(directory);
        if (!Directory.Exists(directory))
            throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory} does not exist.");
        using FileStream lockFile = AcquireLock(directory);
        string segmentDirectory = Path.Combine(directory, SegmentDirectoryName);
        var notes = new List<string>();
        var opened = new List<(ulong Id, SegmentFile Segment, Guid Store)>();
        int skipped = 0;
        try
        {
            foreach (string file in Directory.Exists(segmentDirectory) ? Directory.GetFiles(segmentDirectory).Order() : Enumerable.Empty<string>())
            {
                if (!SegmentFormat.TryParseFileName(Path.GetFileName(file), out ulong id))
                    continue;
                try
                {
                    SegmentFile segment = SegmentFile.Open(file, id, null, out SegmentHeader header);
                    opened.Add((id, segment, header.StoreId));
                }
                catch (Exception ex) when (ex is SegmentFormatException or IOException)
                {
                    skipped++;
                    notes.Add($"skipped {file}: {ex.Message}");
                }
            }
            if (opened.Count == 0)
                throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory} has no readable segment files to rebuild an index from.");

            // The store's identity: what most segments say (a foreign segment copied in is left out, and said so).
            Guid storeId = opened.GroupBy(o => o.Store).OrderByDescending(g => g.Count()).First().Key;
            foreach (var foreign in opened.Where(o => o.Store != storeId).ToList())
            {
                skipped++;
                notes.Add($"skipped {foreign.Segment.Path}: it belongs to store {foreign.Store}, not {storeId}");
                foreign.Segment.CloseWhenUnleased();
                opened.Remove(foreign);
            }

            var best = new Dictionary<ChunkKey, (ulong Segment, SegmentFrame Frame)>();
            var tombstones = new Dictionary<ChunkKey, ulong>();
            var segmentEntries = new List<(ulong Id, SegmentEntry Entry)>();
            long damaged = 0, truncated = 0, superseded = 0, total = opened.Sum(o => o.Segment.FileLength), done = 0;
            ulong maxSequence = 0;
            ulong newestId = opened.Max(o => o.Id);
            foreach ((ulong id, SegmentFile segment, _) in opened)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long length = segment.FileLength;
                long end = SegmentFormat.HeaderSize;
                ulong minSeq = ulong.MaxValue, maxSeq = 0;
                foreach (SegmentFrame frame in SegmentScanner.Walk(segment, SegmentFormat.HeaderSize, length, verifyRecords: true, (o, n, _) => damaged += n))
                {
                    end = frame.Offset + frame.Size;
                    minSeq = Math.Min(minSeq, frame.Sequence);
                    maxSeq = Math.Max(maxSeq, frame.Sequence);
                    if (frame.Kind == FrameKind.Record)
                    {
                        ChunkKey key = frame.Header!.Key;
                        if (best.TryGetValue(key, out var current))
                        {
                            superseded++;
                            if (current.Frame.Sequence > frame.Sequence)
                                continue;
                        }
                        best[key] = (id, frame);
                    }
                    else
                    {
                        foreach (ChunkKey key in SegmentScanner.TombstoneKeys(segment, frame))
                            tombstones[key] = Math.Max(tombstones.GetValueOrDefault(key), frame.Sequence);
                    }
                    progress?.Report(new StoreProgress("scanning segments", done + frame.Offset, total, "bytes"));
                }
                done += length;
                maxSequence = Math.Max(maxSequence, maxSeq);
                // Damage past the last valid frame: the newest segment's is a torn tail and is cut; an older segment
                // keeps its bytes (nothing is deleted that might be wanted) but its committed end stops before them.
                if (id == newestId && end < length)
                {
                    truncated += length - end;
                    damaged -= Math.Min(damaged, length - end);
                    segment.Truncate(end);
                }
                segmentEntries.Add((id, new SegmentEntry(id == newestId ? SegmentState.Active : SegmentState.Sealed, end, segment.Capacity, minSeq, maxSeq)));
            }

            string indexDirectory = Path.Combine(directory, IndexDirectoryName);
            if (Directory.Exists(indexDirectory))
            {
                string aside = Path.Combine(directory, IndexDirectoryName + ".damaged");
                if (Directory.Exists(aside))
                    Directory.Delete(aside, recursive: true);
                Directory.Move(indexDirectory, aside);
                notes.Add($"the previous index was moved to {aside}");
            }
            long indexed = 0;
            using (StoreIndex index = StoreIndex.Open(indexDirectory, create: true))
            using (StoreIndex.Batch batch = index.CreateBatch())
            {
                batch.PutFormat(StoreIndex.SchemaVersion, StoreIndex.SchemaVersion);
                batch.PutStoreId(storeId);
                batch.PutSequence(maxSequence);
                batch.PutAccessTick(maxSequence);
                foreach ((ulong id, SegmentEntry entry) in segmentEntries)
                    batch.PutSegment(id, entry);
                foreach ((ChunkKey key, (ulong segmentId, SegmentFrame frame)) in best)
                {
                    if (tombstones.TryGetValue(key, out ulong deletedAt) && deletedAt > frame.Sequence)
                    {
                        superseded++;
                        continue;
                    }
                    var h = frame.Header!;
                    batch.PutChunk(key, new ChunkEntry(h.KeyKind, (byte)h.Codec, (byte)h.Level, h.TokenCount, segmentId, frame.Offset, h.RecordLength,
                        frame.Sequence, frame.Sequence, frame.RecordChecksum));
                    indexed++;
                }
                index.Commit(batch, sync: true);
            }
            return new RepairResult(opened.Count, skipped, indexed, superseded, damaged, truncated, notes);
        }
        finally
        {
            foreach (var o in opened)
                o.Segment.CloseWhenUnleased();
        }
    }
}
