namespace KvTier.StoreBench;

/// <summary>p50, p99 and maximum of a set of operation latencies, in microseconds.</summary>
internal sealed record Latency(double P50Us, double P99Us, double MaxUs)
{
    public static Latency FromTicks(Span<long> ticks)
    {
        if (ticks.Length == 0)
            return new Latency(0, 0, 0);
        ticks.Sort();
        double perUs = System.Diagnostics.Stopwatch.Frequency / 1e6;
        return new Latency(At(ticks, 0.50) / perUs, At(ticks, 0.99) / perUs, ticks[^1] / perUs);
    }

    /// <summary>The nearest-rank quantile of sorted values.</summary>
    private static long At(ReadOnlySpan<long> sorted, double q)
    {
        return sorted[(int)Math.Clamp(Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>One put run: records stored durably, one call (of <see cref="RecordsPerCall"/> records) at a time or concurrently.</summary>
/// <param name="SettleSeconds">Deferred work done after the timed puts (RocksDB's memtable flush), untimed in the throughput.</param>
/// <param name="GcPauseMs">.NET garbage-collection pauses during the timed part (the harness allocates little per operation; the systems may allocate more).</param>
internal sealed record PutResult(
    string System,
    string Mode,
    int RecordsPerCall,
    int Concurrency,
    long Records,
    long Bytes,
    double Seconds,
    Latency CallLatency,
    double? SettleSeconds,
    double GcPauseMs)
{
    public double BytesPerSecond => Bytes / Seconds;

    public double RecordsPerSecond => Records / Seconds;
}

/// <summary>One get run: each record copied into a caller's buffer, warm (page cache holds the data) or cold (dropped first).</summary>
/// <param name="ResidentAfterDrop">For a cold run, the share of the data files' pages still cached after dropping them.</param>
/// <param name="GcPauseMs">.NET garbage-collection pauses during the timed part.</param>
internal sealed record GetResult(
    string System,
    string Mode,
    string Cache,
    long Records,
    long Bytes,
    double Seconds,
    Latency Latency,
    double? ResidentAfterDrop,
    string? Note,
    double GcPauseMs)
{
    public double BytesPerSecond => Bytes / Seconds;

    public double RecordsPerSecond => Records / Seconds;
}

/// <summary>The hardware's limits for one case's record size, measured in the same run (before and after the systems; the better counts).</summary>
/// <param name="DirectWriteBytesPerSecond">Sequential O_DIRECT pwrites of record-sized blocks, one fsync at the end.</param>
/// <param name="DirectWriteSyncEachBytesPerSecond">The same with an fsync after every block (one durable write per record).</param>
/// <param name="ColdReadBytesPerSecond">The better of the two cold sequential reads.</param>
/// <param name="ColdBufferedReadBytesPerSecond">Buffered sequential preads of record-sized blocks after dropping the file from the page cache.</param>
/// <param name="ColdDirectReadBytesPerSecond">O_DIRECT sequential preads of record-sized blocks.</param>
/// <param name="MemcpyBytesPerSecond">One thread copying record-sized slices of a source as large as the case's data (at most 1 GiB) into one buffer; best of three rounds.</param>
internal sealed record RawLimits(
    long FileBytes,
    int BlockBytes,
    double DirectWriteBytesPerSecond,
    double DirectWriteSyncEachBytesPerSecond,
    double ColdReadBytesPerSecond,
    double ColdBufferedReadBytesPerSecond,
    double ColdDirectReadBytesPerSecond,
    double MemcpyBytesPerSecond)
{
    /// <summary>The better of two measurements, figure by figure.</summary>
    public static RawLimits Best(RawLimits a, RawLimits b) => new(
        a.FileBytes,
        a.BlockBytes,
        Math.Max(a.DirectWriteBytesPerSecond, b.DirectWriteBytesPerSecond),
        Math.Max(a.DirectWriteSyncEachBytesPerSecond, b.DirectWriteSyncEachBytesPerSecond),
        Math.Max(a.ColdReadBytesPerSecond, b.ColdReadBytesPerSecond),
        Math.Max(a.ColdBufferedReadBytesPerSecond, b.ColdBufferedReadBytesPerSecond),
        Math.Max(a.ColdDirectReadBytesPerSecond, b.ColdDirectReadBytesPerSecond),
        Math.Max(a.MemcpyBytesPerSecond, b.MemcpyBytesPerSecond));
}

/// <summary>Everything measured for one chunk size.</summary>
internal sealed record CaseResult(
    string Name,
    string Description,
    int Tokens,
    long RecordBytes,
    int Records,
    long TotalBytes,
    int BatchRecords,
    RawLimits Limits,
    IReadOnlyList<PutResult> Puts,
    IReadOnlyList<GetResult> Gets);

/// <summary>Point-lookup latency with a number of chunks indexed.</summary>
/// <param name="Extrapolated">True when the system did not reach <see cref="Chunks"/> within its time budget and the row is a log-linear extrapolation of the last two measured rows.</param>
internal sealed record IndexPoint(
    string System,
    long Chunks,
    bool Extrapolated,
    double? BuildRecordsPerSecond,
    Latency Present,
    Latency Absent);
