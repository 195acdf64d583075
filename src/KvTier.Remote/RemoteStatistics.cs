namespace KvTier.Remote;

/// <summary>A server's counters (format-spec/protocol.md §7.6): its store's statistics plus its own connection counters.</summary>
public sealed record RemoteStatistics
{
    /// <summary>Records stored.</summary>
    public long Entries { get; init; }

    /// <summary>Bytes of live records in segments.</summary>
    public long LiveBytes { get; init; }

    /// <summary>Bytes in segments that deletes and replacements left dead.</summary>
    public long DeadBytes { get; init; }

    /// <summary>Segment files.</summary>
    public long Segments { get; init; }

    /// <summary>Records in the server's memory tier.</summary>
    public long MemoryEntries { get; init; }

    /// <summary>Bytes in the server's memory tier.</summary>
    public long MemoryBytes { get; init; }

    /// <summary>Gets served from memory since the store opened.</summary>
    public long MemoryHits { get; init; }

    /// <summary>Gets served from disk since the store opened.</summary>
    public long DiskHits { get; init; }

    /// <summary>Gets that missed since the store opened.</summary>
    public long Misses { get; init; }

    /// <summary>Puts since the store opened.</summary>
    public long Puts { get; init; }

    /// <summary>Deletes since the store opened.</summary>
    public long Deletes { get; init; }

    /// <summary>Records dropped because they failed their checksums.</summary>
    public long CorruptionEvents { get; init; }

    /// <summary>Connections open now (authenticated or still in their handshake).</summary>
    public long OpenConnections { get; init; }

    /// <summary>Requests being served now.</summary>
    public long ActiveRequests { get; init; }

    /// <summary>Bytes of put bodies held in memory now (bounded by the server's global put budget).</summary>
    public long InFlightPutBytes { get; init; }

    /// <summary>Requests and connections refused since the server started (bad frames, failed authentication, limits, busy).</summary>
    public long RejectedRequests { get; init; }

    /// <summary>Bulk lanes attached now, over all connections (§12). Server-local: not sent in a stats reply (a client reads 0).</summary>
    public long BulkLanesAttached { get; init; }

    /// <summary>Get bodies the server sent on bulk lanes since it started (§12.3). Server-local: not sent in a stats reply.</summary>
    public long BulkBodiesSent { get; init; }

    /// <summary>Put bodies the server received in full on bulk lanes since it started (§12.3). Server-local: not sent in a stats reply.</summary>
    public long BulkBodiesReceived { get; init; }

    /// <summary>Bulk lanes refused at attach or closed for a failure since the server started (§12). Server-local: not sent in a stats reply.</summary>
    public long BulkLaneFailures { get; init; }
}
