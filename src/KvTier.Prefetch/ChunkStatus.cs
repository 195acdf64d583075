namespace KvTier.Prefetch;

/// <summary>Where one chunk of a <see cref="PrefetchRequest"/> stands.</summary>
public enum ChunkStatus
{
    /// <summary>Found and still arriving: the layers delivered so far hold its K and V.</summary>
    Loading,

    /// <summary>Every layer's K and V are in the destination.</summary>
    Loaded,

    /// <summary>The store does not hold the chunk (the engine computes it).</summary>
    NotFound,

    /// <summary>
    /// A section failed its checksum (the store counted the corruption and dropped the record) or did not decode; the
    /// engine recomputes the chunk. Its rows in the destination are unspecified: sections of it still waiting for a
    /// decoder when the failure is found are dropped, not decoded.
    /// </summary>
    Corrupt,

    /// <summary>The record does not fit the destination (other layer count or KV width, or more tokens than a chunk's rows).</summary>
    Mismatch,

    /// <summary>
    /// Not loaded because an earlier chunk is missing and <see cref="PrefetcherOptions.SkipChunksAfterMissing"/> is set:
    /// with prefix keys nothing after a missing chunk can be reused.
    /// </summary>
    Skipped,
}
