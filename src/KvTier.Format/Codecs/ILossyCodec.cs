namespace KvTier.Format.Codecs;

/// <summary>
/// A codec that encodes binary32 values and decodes binary32 values, before the record's element-type
/// conversion (format-spec/kvtier-format.md §10). Implementations are stateless and thread-safe.
/// </summary>
internal interface ILossyCodec
{
    /// <summary>The codec's id.</summary>
    CodecId Id { get; }

    /// <summary>Encodes one section. Deterministic: the same input gives the same bytes.</summary>
    /// <param name="context">The section.</param>
    /// <param name="values"><see cref="SectionContext.ElementCount"/> finite values, row-major.</param>
    /// <param name="level">A level of this codec.</param>
    /// <returns>The payload.</returns>
    byte[] Encode(in SectionContext context, ReadOnlySpan<float> values, int level);

    /// <summary>Decodes one section; throws <see cref="ChunkRecordException"/> (<see cref="ChunkRecordErrorKind.BadPayload"/>) on a malformed payload and writes nothing useful then.</summary>
    /// <param name="context">The section.</param>
    /// <param name="payload">The payload, checksum already verified.</param>
    /// <param name="values">Receives <see cref="SectionContext.ElementCount"/> values, row-major.</param>
    void Decode(in SectionContext context, ReadOnlySpan<byte> payload, Span<float> values);

    /// <summary>The largest payload a valid section of this shape can have; a longer one is rejected before decoding.</summary>
    long MaxPayloadLength(in SectionContext context);

    /// <summary>The shortest payload a valid section of this shape can have; a shorter one is rejected before decoding.</summary>
    long MinPayloadLength(in SectionContext context);
}
