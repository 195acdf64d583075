using System.IO.Hashing;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage.Memory;

namespace KvTier.Storage.Segments;

/// <summary>What kind of frame starts at a block boundary (format-spec/segment-file.md §3, §4).</summary>
internal enum FrameKind
{
    Record,
    Tombstone,
}

/// <summary>A valid frame found in a segment.</summary>
internal readonly record struct SegmentFrame(
    FrameKind Kind,
    long Offset,
    long Size,
    ulong Sequence,
    ChunkRecordHeader? Header,
    ulong RecordChecksum,
    int TombstoneKeys)
{
    public long RecordLength => Header?.RecordLength ?? 0;
}

/// <summary>
/// Reads frames out of a mapped segment: validation of one frame, and walks that skip damaged blocks (§5).
/// </summary>
/// <remarks>Stateless. SAFETY: callers hold the segment (a lease or the writer's ownership) and pass a limit within the file's length.</remarks>
internal static unsafe class SegmentScanner
{
    /// <summary>
    /// Validates the frame at <paramref name="offset"/>, which must end at or before <paramref name="limit"/>. With
    /// <paramref name="verifyRecord"/>, a record's bytes are hashed and compared with its trailer.
    /// </summary>
    public static bool TryReadFrame(SegmentFile segment, long offset, long limit, bool verifyRecord, out SegmentFrame frame, out string problem)
    {
        frame = default;
        if (offset % SegmentFormat.BlockSize != 0 || offset + 8 > limit)
        {
            problem = "no frame fits before the end";
            return false;
        }
        ReadOnlySpan<byte> magic = segment.Span(offset, 8);
        if (magic.SequenceEqual(ChunkRecordFormat.Magic))
            return TryReadRecord(segment, offset, limit, verifyRecord, out frame, out problem);
        if (magic.SequenceEqual(SegmentFormat.TombstoneMagic))
        {
            int available = (int)Math.Min(limit - offset, SegmentFormat.TombstoneFrameSize(SegmentFormat.MaxTombstoneKeys));
            if (!SegmentFormat.TryReadTombstone(segment.Span(offset, available), out ulong sequence, out int keys))
            {
                problem = "a damaged tombstone frame";
                return false;
            }
            long size = SegmentFormat.TombstoneFrameSize(keys);
            if (offset + size > limit)
            {
                problem = "a tombstone frame runs past the end";
                return false;
            }
            frame = new SegmentFrame(FrameKind.Tombstone, offset, size, sequence, null, 0, keys);
            problem = "";
            return true;
        }
        problem = magic.ContainsAnyExcept((byte)0) ? "no frame magic" : "zeros (end of frames)";
        return false;
    }

    private static bool TryReadRecord(SegmentFile segment, long offset, long limit, bool verifyRecord, out SegmentFrame frame, out string problem)
    {
        frame = default;
        int available = (int)Math.Min(limit - offset, int.MaxValue);
        ChunkRecordHeader header;
        try
        {
            // SAFETY: [offset, offset + available) lies within the file (limit ≤ its length); the caller holds the segment.
            var bytes = new NativeMemoryManager(segment.Pointer(offset), available).Memory;
            header = ChunkRecord.Parse(bytes, segment.Path, allowTrailingBytes: true, maxDecodedBytes: long.MaxValue).Header;
        }
        catch (ChunkRecordException ex)
        {
            problem = $"a damaged record header ({ex.Kind})";
            return false;
        }
        long size = SegmentFormat.RecordFrameSize(header.RecordLength);
        if (offset + size > limit)
        {
            problem = "a record frame runs past the end";
            return false;
        }
        ReadOnlySpan<byte> trailer = segment.Span(offset + SegmentFormat.TrailerOffset(header.RecordLength), SegmentFormat.TrailerSize);
        if (!SegmentFormat.TryReadTrailer(trailer, header.RecordLength, out ulong sequence, out ulong checksum))
        {
            problem = "a damaged record trailer";
            return false;
        }
        if (verifyRecord && XxHash3.HashToUInt64(segment.Span(offset, (int)header.RecordLength)) != checksum)
        {
            problem = "a record whose bytes do not match its checksum";
            return false;
        }
        frame = new SegmentFrame(FrameKind.Record, offset, size, sequence, header, checksum, 0);
        problem = "";
        return true;
    }

    /// <summary>The keys of a tombstone frame.</summary>
    public static ChunkKey[] TombstoneKeys(SegmentFile segment, in SegmentFrame frame)
    {
        ReadOnlySpan<byte> bytes = segment.Span(frame.Offset, (int)frame.Size);
        var keys = new ChunkKey[frame.TombstoneKeys];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = SegmentFormat.TombstoneKey(bytes, i);
        return keys;
    }

    /// <summary>
    /// Every valid frame in [<paramref name="start"/>, <paramref name="limit"/>), skipping damaged regions block by block
    /// (a flipped bit loses one frame, not the rest of the segment). <paramref name="damaged"/> hears of each skipped
    /// region (offset, bytes, reason).
    /// </summary>
    public static IEnumerable<SegmentFrame> Walk(SegmentFile segment, long start, long limit, bool verifyRecords, Action<long, long, string>? damaged = null)
    {
        long offset = start;
        long skipStart = -1;
        string skipReason = "";
        while (offset + 8 <= limit)
        {
            if (TryReadFrame(segment, offset, limit, verifyRecords, out SegmentFrame frame, out string problem))
            {
                if (skipStart >= 0)
                {
                    damaged?.Invoke(skipStart, offset - skipStart, skipReason);
                    skipStart = -1;
                }
                yield return frame;
                offset += frame.Size;
            }
            else
            {
                if (skipStart < 0)
                {
                    skipStart = offset;
                    skipReason = problem;
                }
                offset += SegmentFormat.BlockSize;
            }
        }
        if (skipStart >= 0)
            damaged?.Invoke(skipStart, limit - skipStart, skipReason);
    }
}
