namespace KvTier.Redis;

/// <summary>
/// Counters of one <see cref="RedisTier"/> since it was created (a snapshot from <see cref="RedisTier.GetStatistics"/>).
/// Counts are per call of this instance; other clients of the same Redis are not included.
/// </summary>
public sealed record RedisTierStatistics
{
    /// <summary>Gets that returned a verified record.</summary>
    public long Hits { get; init; }

    /// <summary>Gets that returned null, for any reason: not stored, corrupt, failed, timed out or short-circuited.</summary>
    public long Misses { get; init; }

    /// <summary>Values found under a record key that failed a check (envelope, checksum, record header, section checksum, key); each is also a miss.</summary>
    public long CorruptRecords { get; init; }

    /// <summary>Corrupt values this tier deleted (see <see cref="RedisTierOptions.DeleteCorruptRecords"/>).</summary>
    public long CorruptRecordsDeleted { get; init; }

    /// <summary>Puts that Redis acknowledged.</summary>
    public long PutsStored { get; init; }

    /// <summary>Puts that returned false: too large, failed, refused by Redis, timed out or short-circuited.</summary>
    public long PutsDropped { get; init; }

    /// <summary>Puts not sent because the record was over <see cref="RedisTierOptions.MaxRecordBytes"/> (also in <see cref="PutsDropped"/>).</summary>
    public long PutsTooLarge { get; init; }

    /// <summary>Calls of any kind that failed on the way to Redis or back: unreachable, timed out, or an error reply (such as <c>OOM</c> under <c>noeviction</c>).</summary>
    public long Errors { get; init; }

    /// <summary>Calls that ran past <see cref="RedisTierOptions.OperationTimeout"/> (also in <see cref="Errors"/>).</summary>
    public long Timeouts { get; init; }

    /// <summary>Calls answered at once, without contacting Redis, because the circuit was open.</summary>
    public long ShortCircuited { get; init; }

    /// <summary>How many times the circuit breaker has opened.</summary>
    public long CircuitOpenings { get; init; }

    /// <summary>Whether the circuit is open now (Redis considered down; calls are answered without contacting it).</summary>
    public bool CircuitOpen { get; init; }

    /// <summary>Record bytes returned by hits (envelopes not counted).</summary>
    public long BytesRead { get; init; }

    /// <summary>Record bytes of acknowledged puts (envelopes not counted).</summary>
    public long BytesWritten { get; init; }

    /// <summary>The latest corrupt value found: the tier, the key and what failed; null when none has been. For logs and diagnosis.</summary>
    public string? LastCorruption { get; init; }

    /// <summary>Hits ÷ (hits + misses); 0 before the first get.</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}
