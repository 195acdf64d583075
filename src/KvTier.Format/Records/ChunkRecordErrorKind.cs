namespace KvTier.Format;

/// <summary>Why a chunk record was rejected (format-spec/kvtier-format.md §5).</summary>
public enum ChunkRecordErrorKind
{
    /// <summary>The first 8 bytes are not the magic.</summary>
    BadMagic = 1,

    /// <summary>The record needs a newer reader, or its version fields contradict each other.</summary>
    UnsupportedVersion = 2,

    /// <summary>A reserved flag bit or reserved field is not zero.</summary>
    ReservedBits = 3,

    /// <summary>The header checksum does not match.</summary>
    HeaderChecksum = 4,

    /// <summary>The input ends before the record does.</summary>
    Truncated = 5,

    /// <summary>A header field is outside its range or inconsistent (dimensions, lengths, fingerprint).</summary>
    BadHeader = 6,

    /// <summary>A section table entry is misaligned, overlapping, out of range or mislabelled.</summary>
    BadSectionTable = 7,

    /// <summary>A section payload's checksum does not match.</summary>
    SectionChecksum = 8,

    /// <summary>The codec id or level is unknown.</summary>
    UnknownCodec = 9,

    /// <summary>A payload does not follow its codec's bitstream.</summary>
    BadPayload = 10,

    /// <summary>The record would decode to more bytes than the reader was allowed to allocate.</summary>
    TooLarge = 11,
}
