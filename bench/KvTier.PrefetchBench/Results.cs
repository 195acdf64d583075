namespace KvTier.PrefetchBench;

/// <summary>Milliseconds of repeated runs: the median is what ratios use; every sample is kept.</summary>
internal sealed record Timing(double MedianMs, double MinMs, double MaxMs, double[] SamplesMs)
{
    public static Timing Of(IReadOnlyList<double> samples)
    {
        double[] sorted = [.. samples];
        Array.Sort(sorted);
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        return new Timing(median, sorted[0], sorted[^1], [.. samples]);
    }
}

/// <summary>The full prefetch with one set of options, in one cache state.</summary>
/// <param name="Options">
/// "default" (<c>new PrefetcherOptions()</c>: CPU decoding in place), "staged" (every section copied into staging first),
/// "staged, tight budget", and the informational "one core left" and "default, awaited".
/// </param>
/// <param name="FirstLayer">Time to layer 0 ready, from <c>Start</c>.</param>
/// <param name="FirstLayerBoundMs">The target for <paramref name="FirstLayer"/>: the median whole load / layers + the slack constant.</param>
/// <param name="LayerReadyMs">When each layer was ready, in the run whose total was the median (or the nearest above).</param>
/// <param name="PeakStagingAllocatedBytes">The most staging memory allocated in any run (rented plus cached blocks).</param>
/// <param name="RatioToStages">
/// Median over requests of total / max(I/O only, decode only) of the same repetition: the paths run interleaved, so a
/// per-repetition ratio cancels load that drifts over the run.
/// </param>
/// <param name="NaiveToPrefetch">Median over requests of naive / this prefetch, per repetition likewise.</param>
internal sealed record PrefetchResultRow(
    string Options,
    long StagingBudgetBytes,
    int DecodeParallelism,
    Timing Total,
    Timing FirstLayer,
    double FirstLayerBoundMs,
    double[] LayerReadyMs,
    long PeakStagingAllocatedBytes,
    long PeakStagingRentedBytes,
    double MedianBackpressureWaits,
    double RatioToStages,
    double NaiveToPrefetch);

/// <summary>Every path in one cache state.</summary>
/// <param name="State">"warm page cache", "memory tier" or "cold disk".</param>
/// <param name="TierServed">The store tier a probe get was served from after the state was set up.</param>
/// <param name="MaxResidentBytesBeforeCold">
/// Cold state only: the most segment bytes found in the page cache just before a timed request (should be about the
/// warm-up records' size and no more: the measured records' pages were dropped).
/// </param>
/// <param name="IoFirstLayer">When (a) had every chunk's layer 0 staged: the I/O floor of the first-layer time.</param>
internal sealed record StateResult(
    string State,
    string TierServed,
    long? MaxResidentBytesBeforeCold,
    Timing IoOnly,
    Timing IoFirstLayer,
    Timing DecodeOnly,
    List<PrefetchResultRow> Prefetch,
    Timing Naive,
    double IoBytesPerSecond,
    double PrefetchDecodedBytesPerSecond);

/// <summary>One load case: its shape, the decode-only time (independent of the cache state) and each state.</summary>
/// <param name="StoredBytes">Bytes of the request's records in the store.</param>
/// <param name="DecodedBytes">Bytes of binary32 KV the request delivers.</param>
/// <param name="WarmUpBytes">Bytes of the warm-up records loaded before each cold request (the same count, other keys).</param>
/// <param name="MaxSectionBytes">The largest section payload (a staging block holds at least this).</param>
internal sealed record CaseResult(
    string Name,
    string Description,
    string Codec,
    int Layers,
    int KvDim,
    int Tokens,
    int Chunks,
    long StoredBytes,
    long DecodedBytes,
    long MaxSectionBytes,
    long WarmUpBytes,
    double EncodeSeconds,
    bool BitExact,
    List<StateResult> States);

/// <summary>One of the targets, checked against one row of this run.</summary>
internal sealed record Target(string Name, string Case, string State, string Options, bool Met, double Value, double Threshold, string Detail);
