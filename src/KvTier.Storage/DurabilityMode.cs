namespace KvTier.Storage;

/// <summary>When a put is acknowledged (<see cref="KvStoreOptions.Durability"/>).</summary>
public enum DurabilityMode
{
    /// <summary>
    /// After the record's bytes and its index entry are on the device (fdatasync of the segment, then a synced RocksDB
    /// write batch). Puts that arrive together share both syncs (group commit). Survives power loss. The default.
    /// </summary>
    GroupCommit,

    /// <summary>
    /// After the bytes and the index entry are handed to the operating system, without syncing. Survives a crash or
    /// <c>kill -9</c> of the process, not a power loss or kernel crash: acknowledged records written in the last few
    /// seconds before one may be missing (never corrupt) afterwards.
    /// </summary>
    NoSync,
}
