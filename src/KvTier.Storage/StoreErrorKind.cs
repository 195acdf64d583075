namespace KvTier.Storage;

/// <summary>Why a store operation failed (<see cref="KvStoreException.Kind"/>).</summary>
public enum StoreErrorKind
{
    /// <summary>An option is out of range or inconsistent; the message names it.</summary>
    InvalidOptions,

    /// <summary>Another process (or another <see cref="KvStore"/> in this one) has the directory open.</summary>
    Locked,

    /// <summary>The directory is not a KvTier store, or was written by an incompatible version.</summary>
    NotAStore,

    /// <summary>The RocksDB index is missing or damaged while segments exist: run <c>kvtier repair DIR</c>.</summary>
    IndexDamaged,

    /// <summary>The record given to a put is not a valid chunk record.</summary>
    InvalidRecord,

    /// <summary>The record is larger than <see cref="KvStoreOptions.MaxRecordBytes"/> or the segment size allows.</summary>
    RecordTooLarge,

    /// <summary>The disk tier is full and <see cref="KvStoreOptions.Eviction"/> is <see cref="EvictionPolicy.None"/>.</summary>
    Full,

    /// <summary>An I/O call failed; what was acknowledged before is intact, the operation was not.</summary>
    Io,

    /// <summary>The store was disposed, or an earlier I/O failure stopped its writer.</summary>
    Closed,
}
