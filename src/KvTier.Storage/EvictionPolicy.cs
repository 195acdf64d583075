namespace KvTier.Storage;

/// <summary>What the store does when a tier is over its byte capacity (<see cref="KvStoreOptions.Eviction"/>).</summary>
public enum EvictionPolicy
{
    /// <summary>Evict the least recently used records (by put or get) until the tier fits. The default.</summary>
    Lru,

    /// <summary>
    /// Never evict from the disk tier: a put that would exceed <see cref="KvStoreOptions.DiskCapacityBytes"/> fails with
    /// <see cref="StoreErrorKind.Full"/>. The memory tier still evicts LRU (it only holds copies).
    /// </summary>
    None,
}
