using KvTier.Layout;

namespace KvTier.Format.Codecs;

/// <summary>
/// What a codec needs to know about the section it encodes or decodes: the layout, the number of tokens,
/// which layer and kind, and where the payload sits (for error messages).
/// </summary>
/// <param name="Layout">The record's KV layout.</param>
/// <param name="TokenCount">Tokens in the chunk.</param>
/// <param name="Layer">The section's layer.</param>
/// <param name="Kind">Keys or values.</param>
/// <param name="SourceName">The record's source, for errors; null when unknown.</param>
/// <param name="PayloadOffset">Offset of the payload in the record, for errors; 0 when unknown.</param>
public readonly record struct SectionContext(KvLayout Layout, int TokenCount, int Layer, SectionKind Kind, string? SourceName = null, long PayloadOffset = 0)
{
    /// <summary>Elements in the section: tokens × KV width.</summary>
    public int ElementCount => TokenCount * Layout.KvDim;

    /// <summary>A <see cref="ChunkRecordErrorKind.BadPayload"/> error at <paramref name="offsetInPayload"/>.</summary>
    public ChunkRecordException BadPayload(string message, long offsetInPayload = 0) =>
        new(ChunkRecordErrorKind.BadPayload, $"layer {Layer} {(Kind == SectionKind.Keys ? "K" : "V")}: {message}", SourceName, PayloadOffset + offsetInPayload);
}
