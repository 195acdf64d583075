namespace KvTier.CodecBench;

/// <summary>One row of the results: a candidate's totals over every prompt.</summary>
internal sealed record CandidateSummary(
    string Name,
    string Family,
    double BitsPerElement,
    double RatioToFp16,
    double RatioToCacheGen,
    double EncodeElementsPerSecond,
    double DecodeElementsPerSecond,
    double MeanKl,
    double MaxPromptKl,
    double GreedyMatchShare,
    long TotalBytes);
