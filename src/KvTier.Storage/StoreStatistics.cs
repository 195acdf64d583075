namespace KvTier.Storage;

/// <summary>A snapshot of a store's counters (<see cref="KvStore.GetStatistics"/>). Counters count since open; <see cref="Lifetime"/> since the store was created.</summary>
public sealed record StoreStatistics
{
    /// <summary>Records stored (disk tier; the memory tier holds copies of some).</summary>
    public long Entries { get; init; }

    /// <summary>Frame bytes of the stored records (what <see cref="KvStoreOptions.DiskCapacityBytes"/> bounds).</summary>
    public long LiveBytes { get; init; }

    /// <summary>Bytes in segment files that no record needs any more (deleted, evicted, replaced, tombstones), until compaction.</summary>
    public long DeadBytes { get; init; }

    /// <summary>Segment files.</summary>
    public int Segments { get; init; }

    /// <summary>Records with a copy in the memory tier.</summary>
    public long MemoryEntries { get; init; }

    /// <summary>Bytes of native memory the memory tier owns (cached, leased or pooled).</summary>
    public long MemoryBytes { get; init; }

    /// <summary>Gets served from the memory tier.</summary>
    public long MemoryHits { get; init; }

    /// <summary>Gets served from the disk tier.</summary>
    public long DiskHits { get; init; }

    /// <summary>Gets that found nothing (including records dropped as corrupt).</summary>
    public long Misses { get; init; }

    /// <summary>Records stored by puts.</summary>
    public long Puts { get; init; }

    /// <summary>Records removed by delete.</summary>
    public long Deletes { get; init; }

    /// <summary>Records evicted from the disk tier for capacity (or by <see cref="KvStore.Evict"/>).</summary>
    public long Evictions { get; init; }

    /// <summary>Copies evicted from the memory tier.</summary>
    public long MemoryEvictions { get; init; }

    /// <summary>Records found corrupt (checksum, header or missing file) and dropped: each was a miss, never data.</summary>
    public long CorruptionEvents { get; init; }

    /// <summary>Segments rewritten or removed by compaction.</summary>
    public long SegmentsCompacted { get; init; }

    /// <summary>Bytes appended to segment files (frames, including compaction copies and tombstones).</summary>
    public long BytesWritten { get; init; }

    /// <summary>Bytes of the records the memory tier served since open (whole records, as leased).</summary>
    public long MemoryBytesRead { get; init; }

    /// <summary>Bytes of the records the disk tier served since open (whole records, as leased; what the reader then touches may be less).</summary>
    public long DiskBytesRead { get; init; }

    /// <summary>Bytes of the records fetched from the remote tier since open.</summary>
    public long RemoteBytesRead { get; init; }

    /// <summary>Group commits (fdatasync + index batch).</summary>
    public long GroupCommits { get; init; }

    /// <summary>Leases not yet disposed.</summary>
    public long OpenLeases { get; init; }

    /// <summary>Async gets (<see cref="KvStore.GetAsync"/>) that missed locally and were served by the remote tier.</summary>
    public long RemoteHits { get; init; }

    /// <summary>Async gets that missed locally and at the remote tier (or whose remote copy was refused as corrupt).</summary>
    public long RemoteMisses { get; init; }

    /// <summary>Records written behind to the remote tier and acknowledged by it.</summary>
    public long RemoteWrites { get; init; }

    /// <summary>Records not written behind: the queue was full, the remote refused or was down, or the store closed first. Each is still stored locally.</summary>
    public long RemoteWritesDropped { get; init; }

    /// <summary>Records waiting to be written behind now.</summary>
    public long RemoteWritesQueued { get; init; }

    /// <summary>Records indexed from a segment tail at open (written but not acknowledged before a crash).</summary>
    public long RecoveredRecords { get; init; }

    /// <summary>Bytes of torn tail cut from segments at open.</summary>
    public long TruncatedBytes { get; init; }

    /// <summary>The same counters over the store's whole life (kept in its index across opens).</summary>
    public StoreCounters Lifetime { get; init; } = StoreCounters.Zero;

    /// <summary>Memory-tier hits over all gets (0 when there were none).</summary>
    public double MemoryHitRate => Gets == 0 ? 0 : (double)MemoryHits / Gets;

    /// <summary>Disk-tier hits over all gets.</summary>
    public double DiskHitRate => Gets == 0 ? 0 : (double)DiskHits / Gets;

    /// <summary>Gets.</summary>
    public long Gets => MemoryHits + DiskHits + Misses;
}
