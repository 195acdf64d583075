using KvTier.Reference;

namespace KvTier.CodecBench.Candidates;

/// <summary>One way of shrinking a chunk's KV: a KvTier codec at a level, or a baseline from elsewhere.</summary>
internal interface ICodecCandidate
{
    /// <summary>Row name, e.g. <c>ans-2</c> or <c>cachegen</c>.</summary>
    string Name { get; }

    /// <summary>Curve on the plot: candidates of one family are joined.</summary>
    string Family { get; }

    /// <summary>Compresses positions <c>[0, tokens)</c> of <paramref name="exact"/> and returns the size and the KV a reader would get back.</summary>
    CandidateResult Run(KvCache exact, int tokens);
}

/// <summary>What one candidate did to one chunk.</summary>
/// <param name="Bytes">Compressed size: whole records where the candidate is a record, header and table included.</param>
/// <param name="Decoded">The KV after decoding: a cache holding the chunk's positions.</param>
/// <param name="EncodeSeconds">Wall time of encoding, one thread.</param>
/// <param name="DecodeSeconds">Wall time of decoding (parse, checksums and decode for records), one thread.</param>
internal sealed record CandidateResult(long Bytes, KvCache Decoded, double EncodeSeconds, double DecodeSeconds);
