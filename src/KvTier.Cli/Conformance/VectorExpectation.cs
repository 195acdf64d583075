using KvTier.Format;

namespace KvTier.Cli.Conformance;

/// <summary>
/// What a decoder must do with a vector (format-spec/vectors/README.md): decode it to exactly
/// <see cref="DecodedSha256"/>, or reject it (as <see cref="ErrorKind"/>, for decoders that report kinds).
/// </summary>
/// <param name="Outcome"><see cref="DecodeOutcome"/> or <see cref="RejectOutcome"/>.</param>
/// <param name="DecodedSha256">Decode: SHA-256 of the decoded values as binary32 little-endian, layers.0.k, layers.0.v, layers.1.k, … (lowercase hex).</param>
/// <param name="ElementsSha256">Decode: SHA-256 of the decoded elements in the record's element type, little-endian, same order.</param>
/// <param name="Codec">Decode: the codec's name.</param>
/// <param name="Level">Decode: the codec level.</param>
/// <param name="ElementType">Decode: <c>f32</c>, <c>f16</c> or <c>bf16</c>.</param>
/// <param name="Layers">Decode: layers.</param>
/// <param name="KvDim">Decode: KV width (heads × head dim).</param>
/// <param name="Tokens">Decode: token count.</param>
/// <param name="ErrorKind">Reject: the <see cref="ChunkRecordErrorKind"/> name.</param>
internal sealed record VectorExpectation(
    string Outcome,
    string? DecodedSha256 = null,
    string? ElementsSha256 = null,
    string? Codec = null,
    int? Level = null,
    string? ElementType = null,
    int? Layers = null,
    int? KvDim = null,
    int? Tokens = null,
    string? ErrorKind = null)
{
    public const string DecodeOutcome = "decode";
    public const string RejectOutcome = "reject";

    public bool ExpectsDecode => Outcome == DecodeOutcome;

    public static VectorExpectation Reject(ChunkRecordErrorKind kind) => new(RejectOutcome, ErrorKind: kind.ToString());

    /// <summary>"decode" or "reject Kind", for result tables.</summary>
    public override string ToString() => ExpectsDecode ? DecodeOutcome : $"{RejectOutcome} {ErrorKind}";
}
