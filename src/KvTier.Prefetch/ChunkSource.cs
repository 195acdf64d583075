namespace KvTier.Prefetch;

/// <summary>The tier a chunk of a <see cref="PrefetchRequest"/> was read from.</summary>
public enum ChunkSource
{
    /// <summary>The local memory tier.</summary>
    Memory,

    /// <summary>The local disk tier (a memory-mapped segment file).</summary>
    Disk,

    /// <summary>
    /// The store's remote tier (<see cref="Storage.KvStoreOptions.RemoteTier"/>): the local tiers missed it, and the store
    /// kept the fetched record locally.
    /// </summary>
    Remote,
}
