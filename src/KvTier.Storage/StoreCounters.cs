namespace KvTier.Storage;

/// <summary>
/// A store's lifetime counters, kept in its index across opens (format-spec/metadata-schema.md §4, <c>counters</c>):
/// what <c>kvtier inspect</c> reports as hit rates. Written with every group commit, so a crash loses at most the
/// counts since the last one.
/// </summary>
/// <param name="MemoryHits">Gets served from the memory tier.</param>
/// <param name="DiskHits">Gets served from the disk tier.</param>
/// <param name="Misses">Gets that found nothing.</param>
/// <param name="Puts">Records stored.</param>
/// <param name="Deletes">Records deleted.</param>
/// <param name="Evictions">Records evicted from the disk tier.</param>
/// <param name="CorruptionEvents">Records found corrupt and dropped.</param>
public sealed record StoreCounters(long MemoryHits, long DiskHits, long Misses, long Puts, long Deletes, long Evictions, long CorruptionEvents)
{
    /// <summary>All zero.</summary>
    public static StoreCounters Zero { get; } = new(0, 0, 0, 0, 0, 0, 0);

    /// <summary>Gets.</summary>
    public long Gets => MemoryHits + DiskHits + Misses;

    /// <summary>Memory-tier hits over gets (0 when none).</summary>
    public double MemoryHitRate => Gets == 0 ? 0 : (double)MemoryHits / Gets;

    /// <summary>Disk-tier hits over gets (0 when none).</summary>
    public double DiskHitRate => Gets == 0 ? 0 : (double)DiskHits / Gets;

    internal long[] ToArray() => [MemoryHits, DiskHits, Misses, Puts, Deletes, Evictions, CorruptionEvents];

    internal static StoreCounters FromArray(ReadOnlySpan<long> v) => new(At(v, 0), At(v, 1), At(v, 2), At(v, 3), At(v, 4), At(v, 5), At(v, 6));

    internal StoreCounters Add(StoreCounters other) => new(MemoryHits + other.MemoryHits, DiskHits + other.DiskHits, Misses + other.Misses,
        Puts + other.Puts, Deletes + other.Deletes, Evictions + other.Evictions, CorruptionEvents + other.CorruptionEvents);

    private static long At(ReadOnlySpan<long> v, int i) => i < v.Length ? v[i] : 0;
}
