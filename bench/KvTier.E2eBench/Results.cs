namespace KvTier.E2eBench;

/// <summary>Where the prefix comes from.</summary>
internal enum CaseKind
{
    NoCache,
    Memory,
    WarmDisk,
    ColdDisk,
    Serve,
}

/// <summary>One case at one prompt length, over the timed repetitions.</summary>
/// <param name="LoadMs">Median TTFT less the median single-token step near that position: lookup, read, decode and the state import.</param>
/// <param name="LoadBytesPerSecond">Raw record bytes of the reused chunks over <paramref name="LoadMs"/>.</param>
/// <param name="ColdResidentBytes">Cold case only: the most segment bytes mincore found cached after the drop, over the repetitions (0: every timed load started cold).</param>
internal sealed record LengthResult(
    int PromptTokens,
    int TokensReused,
    int TokensEvaluated,
    Timing Ttft,
    double RatioToNoCache,
    double StepMs,
    double? LoadMs,
    long LoadRecordBytes,
    double? LoadBytesPerSecond,
    bool OutputsIdentical,
    long? ColdResidentBytes);

/// <param name="FixedMs">Intercept of the median TTFT against the prompt length.</param>
/// <param name="MsPerToken">Slope of the median TTFT against the prompt length.</param>
/// <param name="MarginalLoadBytesPerSecond">Record bytes per token over the slope of the load time against the tokens reused: the rate at which loading more prefix costs more time.</param>
/// <param name="LoadFixedMs">Intercept of the load time against the tokens reused: lookup and per-request costs.</param>
/// <param name="BreakEvenTokens">Prompt length where the median TTFT ratio to no cache crosses 1 (interpolated between tested lengths); the shortest tested length when it already wins there; null when no tested length wins.</param>
/// <param name="FirstTestedLengthThatWins">Shortest tested prompt whose median TTFT is below no-cache; null when none.</param>
internal sealed record CaseResult(
    string Case,
    string Description,
    IReadOnlyList<LengthResult> Lengths,
    double FixedMs,
    double MsPerToken,
    double? MarginalLoadBytesPerSecond,
    double? LoadFixedMs,
    double? BreakEvenTokens,
    int? FirstTestedLengthThatWins);

/// <summary>A published prefill rate the projection divides by: cited, not measured here.</summary>
internal sealed record PublishedPrefill(string Short, string Name, double TokensPerSecond, string Source, string Url);

/// <param name="Primary">Printed: the load rate is a measurement of 8B-class records (else this run's tiny-model rate, a pessimistic variant).</param>
/// <param name="LoadRateSource">Where the load rate comes from.</param>
/// <param name="LoadTokensPerSecond">Measured load rate of 8B-class tokens from the tier.</param>
/// <param name="SpeedupLongPrompt">Prefill time over load time for a long prompt (the ratio of the two rates): above 1, loading wins.</param>
/// <param name="ProjectedTtftComputeMs">At <see cref="Projection.ExamplePromptTokens"/> tokens: the prompt over the published prefill rate.</param>
/// <param name="ProjectedTtftLoadMs">At the same length: this run's fixed load cost of the tier plus the tokens over the load rate.</param>
/// <param name="BreakEvenTokens">Prompt length from which loading is projected to beat computing; null when never.</param>
internal sealed record ProjectionRow(
    string Tier,
    string Codec,
    string Prefill,
    string PrefillShort,
    bool Primary,
    string LoadRateSource,
    double BytesPerToken,
    double LoadTokensPerSecond,
    double PrefillTokensPerSecond,
    double SpeedupLongPrompt,
    double ProjectedTtftComputeMs,
    double ProjectedTtftLoadMs,
    double? BreakEvenTokens);

internal sealed record Projection(
    string Note,
    string Layout,
    long RawBytesPerToken,
    string Assumptions,
    int ExamplePromptTokens,
    IReadOnlyList<PublishedPrefill> PublishedPrefill,
    IReadOnlyList<ProjectionRow> Rows);
