namespace KvTier.Storage;

/// <summary>How much of a record a disk-tier get checks before handing it out (<see cref="KvStoreOptions.ReadVerification"/>).</summary>
public enum ReadVerification
{
    /// <summary>
    /// The whole record against its checksum (XXH3-64) and its header. A lease's bytes are then known good. The default.
    /// </summary>
    Full,

    /// <summary>
    /// The header and section table only; each section's payload is checked when it is read through
    /// <see cref="RecordLease.TryGetSection"/>. For callers that decode section by section (the prefetcher), this
    /// avoids a second pass over the bytes. <see cref="RecordLease.Bytes"/> is then not verified past the table, and the
    /// record is not promoted into the memory tier (which holds only verified bytes).
    /// </summary>
    Header,
}
