namespace KvTier.Storage;

/// <summary>Where a record was found.</summary>
public enum StoreTier
{
    /// <summary>The memory tier: a pinned, aligned native buffer.</summary>
    Memory,

    /// <summary>The disk tier: a memory-mapped segment file.</summary>
    Disk,
}
