using KvTier.Storage.Segments;

namespace KvTier.Storage;

/// <summary>One segment file's accounting (<see cref="KvStore.GetSegments"/>).</summary>
/// <param name="Id">Segment id.</param>
/// <param name="Path">The file.</param>
/// <param name="State">Active (appended to) or sealed.</param>
/// <param name="Capacity">Most bytes the file may hold.</param>
/// <param name="CommittedEnd">Bytes written and committed, header included.</param>
/// <param name="LiveBytes">Frame bytes of records the index points to.</param>
/// <param name="LiveRecords">Records the index points to.</param>
/// <param name="Leases">Leases readers hold on it now.</param>
public sealed record SegmentInfo(ulong Id, string Path, SegmentState State, long Capacity, long CommittedEnd, long LiveBytes, long LiveRecords, int Leases)
{
    /// <summary>Bytes after the header that no record needs.</summary>
    public long DeadBytes => Math.Max(0, CommittedEnd - SegmentFormat.HeaderSize - LiveBytes);

    /// <summary>Live bytes over written bytes (1 for an empty segment).</summary>
    public double LiveFraction => CommittedEnd <= SegmentFormat.HeaderSize ? 1.0 : (double)LiveBytes / (CommittedEnd - SegmentFormat.HeaderSize);
}
