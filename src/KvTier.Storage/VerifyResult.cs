namespace KvTier.Storage;

/// <summary>One problem <see cref="KvStore.Verify"/> found.</summary>
/// <param name="Key">The record concerned, as hex; null for damage outside any indexed record.</param>
/// <param name="SegmentId">The segment.</param>
/// <param name="Offset">Byte offset in the segment file.</param>
/// <param name="Message">What is wrong.</param>
public sealed record VerifyProblem(string? Key, ulong SegmentId, long Offset, string Message);

/// <summary>What <see cref="KvStore.Verify"/> checked and found.</summary>
/// <param name="RecordsChecked">Indexed records checked (bytes, header, every section, trailer, index entry).</param>
/// <param name="RecordsCorrupt">Indexed records that failed a check: each is a miss on get.</param>
/// <param name="SegmentsChecked">Segment files walked frame by frame.</param>
/// <param name="BytesChecked">Segment bytes walked.</param>
/// <param name="DamagedBytes">Bytes in committed regions where no valid frame was found (damage to dead or live frames).</param>
/// <param name="Problems">Every problem, in segment and offset order.</param>
public sealed record VerifyResult(long RecordsChecked, long RecordsCorrupt, int SegmentsChecked, long BytesChecked, long DamagedBytes, IReadOnlyList<VerifyProblem> Problems)
{
    /// <summary>True when nothing is wrong.</summary>
    public bool Ok => Problems.Count == 0;
}

/// <summary>What <see cref="KvStore.Repair"/> did.</summary>
/// <param name="SegmentsScanned">Segment files read.</param>
/// <param name="SegmentsSkipped">Files skipped: unreadable header, or another store's segment (named in <paramref name="Notes"/>).</param>
/// <param name="RecordsIndexed">Records in the rebuilt index.</param>
/// <param name="RecordsSuperseded">Older versions of keys stored again later, and records deleted by a tombstone.</param>
/// <param name="DamagedBytes">Bytes where no valid frame was found (skipped).</param>
/// <param name="TruncatedBytes">Torn tail cut from the newest segment.</param>
/// <param name="Notes">Human-readable notes: skipped files, the old index's new name.</param>
public sealed record RepairResult(int SegmentsScanned, int SegmentsSkipped, long RecordsIndexed, long RecordsSuperseded, long DamagedBytes, long TruncatedBytes, IReadOnlyList<string> Notes);
