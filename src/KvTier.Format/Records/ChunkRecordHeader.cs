using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Format;

/// <summary>The validated header of a chunk record (format-spec/kvtier-format.md §2.1).</summary>
/// <param name="FormatVersion">The writer's format version.</param>
/// <param name="MinReaderVersion">The oldest reader that can decode the record.</param>
/// <param name="Flags">The flag word (reserved bits are zero; unused bits as written).</param>
/// <param name="Codec">The codec of every section.</param>
/// <param name="Level">The codec level the encoder used.</param>
/// <param name="Fingerprint">Model id and layout; the record's fingerprint field matched them.</param>
/// <param name="KeyKind">Whether <paramref name="Key"/> is a prefix or a segment key.</param>
/// <param name="Key">The chunk key.</param>
/// <param name="TokenCount">Tokens in the chunk.</param>
/// <param name="FirstPosition">Position of the first token when its KV was computed.</param>
/// <param name="HeaderSize">Where the section table starts.</param>
/// <param name="SectionEntrySize">Bytes per section table entry (32 in format v1; a later version may use more).</param>
/// <param name="RecordLength">Total bytes of the record.</param>
public sealed record ChunkRecordHeader(
    ushort FormatVersion,
    ushort MinReaderVersion,
    uint Flags,
    CodecId Codec,
    int Level,
    ModelFingerprint Fingerprint,
    ChunkKeyKind KeyKind,
    ChunkKey Key,
    int TokenCount,
    int FirstPosition,
    int HeaderSize,
    int SectionEntrySize,
    long RecordLength)
{
    /// <summary>The KV layout.</summary>
    public KvLayout Layout => Fingerprint.Layout;

    /// <summary>The model id.</summary>
    public string ModelId => Fingerprint.ModelId;

    /// <summary>Number of sections: two per layer.</summary>
    public int SectionCount => 2 * Layout.Layers;

    /// <summary>End of the section table.</summary>
    public long TableEnd => HeaderSize + (long)SectionCount * SectionEntrySize;

    /// <summary>Bytes of the record decoded to binary32: 2 × layers × tokens × KV width × 4.</summary>
    public long DecodedSingleBytes => 2L * Layout.Layers * TokenCount * Layout.KvDim * sizeof(float);
}
