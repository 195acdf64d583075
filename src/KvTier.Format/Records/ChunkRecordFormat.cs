namespace KvTier.Format;

/// <summary>Constants of the chunk record format (format-spec/kvtier-format.md §2, §4, §6).</summary>
public static class ChunkRecordFormat
{
    /// <summary>The format version this code writes.</summary>
    public const ushort Version = 1;

    /// <summary>The reader version of this code: records whose <c>min_reader_version</c> is larger are rejected.</summary>
    public const ushort MinimumReadableVersion = 1;

    /// <summary>The <c>min_reader_version</c> this code writes: v1 records need a v1 reader.</summary>
    public const ushort MinimumWriteVersion = 1;

    /// <summary>Size of the fixed header in bytes (§2.1).</summary>
    public const int FixedHeaderSize = 160;

    /// <summary>Size of a v1 section table entry in bytes (§2.2).</summary>
    public const int SectionEntrySize = 32;

    /// <summary>Alignment of section payloads from the record start, in bytes (§2.3).</summary>
    public const int PayloadAlignment = 64;

    /// <summary>Most tokens in one record (§4).</summary>
    public const int MaxTokenCount = 1 << 20;

    /// <summary>Most elements (tokens × KV width) in one section (§4).</summary>
    public const int MaxSectionElements = 1 << 27;

    /// <summary>Largest record, in bytes (§4).</summary>
    public const long MaxRecordLength = 1L << 40;

    /// <summary>Largest section payload, in bytes (§4).</summary>
    public const long MaxSectionLength = int.MaxValue;

    /// <summary>Largest <c>first_position + token_count</c> (§2.1).</summary>
    public const long MaxPositionEnd = 1L << 31;

    /// <summary>Reserved flag bits, which a reader rejects when set (§2.1).</summary>
    public const uint ReservedFlagMask = 0x0000FFFF;

    /// <summary>The 8 magic bytes: <c>\x89KVT\r\n\x1a\n</c>.</summary>
    public static ReadOnlySpan<byte> Magic => [0x89, 0x4B, 0x56, 0x54, 0x0D, 0x0A, 0x1A, 0x0A];

    internal const int ChecksumOffset = 152;

    /// <summary><paramref name="value"/> rounded up to a multiple of <paramref name="alignment"/> (a power of two).</summary>
    internal static long Align(long value, int alignment) => (value + alignment - 1) & ~(long)(alignment - 1);
}
