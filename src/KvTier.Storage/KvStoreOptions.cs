using KvTier.Storage.Remote;

namespace KvTier.Storage;

/// <summary>
/// How a <see cref="KvStore"/> is opened. Validated once, at <see cref="KvStore.Open"/>, with a message naming the option.
/// </summary>
public sealed record KvStoreOptions
{
    /// <summary>1 MiB.</summary>
    public const long MiB = 1L << 20;

    /// <summary>
    /// The store's directory: <c>segments/</c> (segment files), <c>index/</c> (RocksDB) and the lock file
    /// <c>kvtier.lock</c>. Created when missing and <see cref="CreateIfMissing"/> is true. Required.
    /// </summary>
    public required string Directory { get; init; }

    /// <summary>Create the directory and an empty store when there is none. Default: true.</summary>
    public bool CreateIfMissing { get; init; } = true;

    /// <summary>
    /// Bytes of the memory tier: pinned, 4 KiB-aligned native buffers holding copies of recently used records
    /// (write-through: every put is also on disk). 0 disables the tier. Default: 256 MiB. More memory saves page-cache
    /// misses for hot records; the page cache already caches the segments, so this mostly matters for records that
    /// are about to be handed to a device.
    /// </summary>
    public long MemoryCapacityBytes { get; init; } = 256 * MiB;

    /// <summary>
    /// Bytes of live records the disk tier keeps (each counted as its 4 KiB-aligned frame). Over it, records are
    /// evicted per <see cref="Eviction"/>. Dead bytes awaiting compaction come on top, bounded by
    /// <see cref="CompactionMinLiveFraction"/>. The capacity is not stored with the data: opening an existing store
    /// with a smaller capacity than it holds evicts down to it. Default: 64 GiB.
    /// </summary>
    public long DiskCapacityBytes { get; init; } = 64L * 1024 * MiB;

    /// <summary>
    /// Size of each segment file: a multiple of 4 KiB, at least 1 MiB, at most 64 GiB; the largest record must fit in
    /// one. Larger segments mean fewer files and mappings; smaller ones make compaction finer-grained. Default: 256 MiB.
    /// </summary>
    public long SegmentSizeBytes { get; init; } = 256 * MiB;

    /// <summary>
    /// Largest record a put accepts, in bytes; at most 2 GiB − 1 (records are addressed as spans) and small enough that
    /// its frame fits in one segment. Default (null): 1 GiB or the largest that fits in a segment, whichever is smaller.
    /// </summary>
    public long? MaxRecordBytes { get; init; }

    /// <summary>The largest record that fits in a segment of <see cref="SegmentSizeBytes"/> after the header and frame overhead.</summary>
    internal long LargestRecordInSegment => SegmentSizeBytes - Segments.SegmentFormat.HeaderSize - Segments.SegmentFormat.TrailerSize - 8;

    /// <summary><see cref="MaxRecordBytes"/> with its default applied.</summary>
    internal long EffectiveMaxRecordBytes => MaxRecordBytes ?? Math.Min(1024 * MiB, LargestRecordInSegment);

    /// <summary>When a put is acknowledged. Default: <see cref="DurabilityMode.GroupCommit"/>.</summary>
    public DurabilityMode Durability { get; init; } = DurabilityMode.GroupCommit;

    /// <summary>
    /// Most records in one group commit (one fdatasync and one index batch). Larger groups amortize the syncs over
    /// more puts; a put waits for its whole group. Default: 256.
    /// </summary>
    public int MaxGroupCommitRecords { get; init; } = 256;

    /// <summary>Most record bytes in one group commit. Default: 256 MiB.</summary>
    public long MaxGroupCommitBytes { get; init; } = 256 * MiB;

    /// <summary>What happens when the disk tier is over <see cref="DiskCapacityBytes"/>. Default: <see cref="EvictionPolicy.Lru"/>.</summary>
    public EvictionPolicy Eviction { get; init; } = EvictionPolicy.Lru;

    /// <summary>
    /// A full (sealed) segment whose live bytes fall below this fraction of its written bytes is compacted: its live
    /// records are copied forward and the file is deleted once no reader holds a lease on it. In (0, 1].
    /// Lower values rewrite less but leave more dead bytes on disk. Default: 0.5.
    /// </summary>
    public double CompactionMinLiveFraction { get; init; } = 0.5;

    /// <summary>
    /// Compact in the background after deletes and evictions (online; readers are never blocked). When false, only
    /// <see cref="KvStore.Compact"/> compacts. Default: true.
    /// </summary>
    public bool BackgroundCompaction { get; init; } = true;

    /// <summary>How much of a disk-tier record a get checks. Default: <see cref="ReadVerification.Full"/>.</summary>
    public ReadVerification ReadVerification { get; init; } = ReadVerification.Full;

    /// <summary>
    /// Check every section checksum of a record before storing it (one pass over its bytes), so that nothing corrupt
    /// is ever stored. Default: true.
    /// </summary>
    public bool VerifyOnPut { get; init; } = true;

    /// <summary>
    /// A tier beyond this machine, last in the chain local memory → local disk → remote: a <c>kvtier serve</c> server
    /// (KvTier.Remote's <c>RemoteTier</c>) or Redis (KvTier.Redis's <c>RedisTier</c>). <see cref="KvStore.GetAsync"/> and
    /// <see cref="KvStore.LongestPrefixAsync"/> fall through to it on a local miss (a record it returns is checked and
    /// then kept locally); puts are written behind to it per <see cref="RemoteWrites"/>. The synchronous gets, deletes
    /// and evictions stay local.
    /// The tier belongs to the caller, who disposes it after the store. Default: null (local tiers only).
    /// </summary>
    public IRemoteTier? RemoteTier { get; init; }

    /// <summary>
    /// What happens to records put into this store when <see cref="RemoteTier"/> is set. Default:
    /// <see cref="RemoteWritePolicy.WriteBehind"/> (what one instance computes, the others can load).
    /// </summary>
    public RemoteWritePolicy RemoteWrites { get; init; } = RemoteWritePolicy.WriteBehind;

    /// <summary>
    /// Records that may wait to be written behind to the remote tier (only their keys are queued: each is read back from
    /// the local tiers when sent, so the queue holds no record bytes). A put that finds the queue full is stored locally
    /// but not sent, and counted in <see cref="StoreStatistics.RemoteWritesDropped"/>. 1 to 1,048,576. Default: 4,096.
    /// </summary>
    public int RemoteWriteQueueLength { get; init; } = 4096;

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
            throw Invalid(nameof(Directory), "must name a directory.");
        if (RemoteWriteQueueLength is < 1 or > 1 << 20)
            throw Invalid(nameof(RemoteWriteQueueLength), $"is {RemoteWriteQueueLength}; it must be between 1 and 1048576.");
        if (!Enum.IsDefined(RemoteWrites))
            throw Invalid(nameof(RemoteWrites), $"is {(int)RemoteWrites}, not a {nameof(RemoteWritePolicy)}.");
        if (MemoryCapacityBytes < 0)
            throw Invalid(nameof(MemoryCapacityBytes), $"is {MemoryCapacityBytes}; it must be 0 (no memory tier) or more.");
        if (DiskCapacityBytes < Segments.SegmentFormat.BlockSize)
            throw Invalid(nameof(DiskCapacityBytes), $"is {DiskCapacityBytes}; it must be at least {Segments.SegmentFormat.BlockSize} bytes.");
        if (SegmentSizeBytes < MiB || SegmentSizeBytes > 64L * 1024 * MiB || SegmentSizeBytes % Segments.SegmentFormat.BlockSize != 0)
            throw Invalid(nameof(SegmentSizeBytes), $"is {SegmentSizeBytes}; it must be a multiple of 4096 between 1 MiB and 64 GiB.");
        long largestFit = LargestRecordInSegment;
        if (MaxRecordBytes is { } max && (max < 1024 || max > int.MaxValue || max > largestFit))
            throw Invalid(nameof(MaxRecordBytes), $"is {max}; it must be between 1024 and min(2^31 − 1, {largestFit}) (a record must fit in one {SegmentSizeBytes}-byte segment).");
        if (MaxGroupCommitRecords is < 1 or > 1_000_000)
            throw Invalid(nameof(MaxGroupCommitRecords), $"is {MaxGroupCommitRecords}; it must be between 1 and 1,000,000.");
        if (MaxGroupCommitBytes < MiB)
            throw Invalid(nameof(MaxGroupCommitBytes), $"is {MaxGroupCommitBytes}; it must be at least 1 MiB.");
        if (!(CompactionMinLiveFraction > 0 && CompactionMinLiveFraction <= 1))
            throw Invalid(nameof(CompactionMinLiveFraction), $"is {CompactionMinLiveFraction}; it must be in (0, 1].");
        if (!Enum.IsDefined(Durability))
            throw Invalid(nameof(Durability), $"is {(int)Durability}, not a {nameof(DurabilityMode)}.");
        if (!Enum.IsDefined(Eviction))
            throw Invalid(nameof(Eviction), $"is {(int)Eviction}, not an {nameof(EvictionPolicy)}.");
        if (!Enum.IsDefined(ReadVerification))
            throw Invalid(nameof(ReadVerification), $"is {(int)ReadVerification}, not a {nameof(Storage.ReadVerification)}.");
    }

    private static KvStoreException Invalid(string option, string problem) =>
        new(StoreErrorKind.InvalidOptions, $"{nameof(KvStoreOptions)}.{option} {problem}");
}
