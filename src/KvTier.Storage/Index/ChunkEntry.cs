using System.Buffers.Binary;
using KvTier.Format;

namespace KvTier.Storage.Index;

/// <summary>
/// A chunk's index entry: where its record lives and what it is (format-spec/metadata-schema.md §2).
/// </summary>
// Value layout (64 bytes, little-endian):
//   0  1  value version (1)
//   1  1  key kind (1 prefix, 2 segment)
//   2  1  codec
//   3  1  level
//   4  4  token count
//   8  8  segment id
//  16  8  frame offset in the segment (a multiple of 4096)
//  24  8  record length
//  32  8  sequence number
//  40  8  access tick (LRU order)
//  48  8  XXH3-64 of the record's bytes
//  56  8  reserved, 0
internal readonly record struct ChunkEntry(
    ChunkKeyKind KeyKind,
    byte Codec,
    byte Level,
    int TokenCount,
    ulong SegmentId,
    long Offset,
    long RecordLength,
    ulong Sequence,
    ulong AccessTick,
    ulong RecordChecksum)
{
    public const int Size = 64;
    public const byte ValueVersion = 1;

    /// <summary>Bytes the record's frame occupies in its segment.</summary>
    public long FrameSize => Segments.SegmentFormat.RecordFrameSize(RecordLength);

    public void Write(Span<byte> value)
    {
        value[..Size].Clear();
        value[0] = ValueVersion;
        value[1] = (byte)KeyKind;
        value[2] = Codec;
        value[3] = Level;
        BinaryPrimitives.WriteInt32LittleEndian(value[4..], TokenCount);
        BinaryPrimitives.WriteUInt64LittleEndian(value[8..], SegmentId);
        BinaryPrimitives.WriteInt64LittleEndian(value[16..], Offset);
        BinaryPrimitives.WriteInt64LittleEndian(value[24..], RecordLength);
        BinaryPrimitives.WriteUInt64LittleEndian(value[32..], Sequence);
        BinaryPrimitives.WriteUInt64LittleEndian(value[40..], AccessTick);
        BinaryPrimitives.WriteUInt64LittleEndian(value[48..], RecordChecksum);
    }

    public byte[] ToArray()
    {
        byte[] value = new byte[Size];
        Write(value);
        return value;
    }

    /// <summary>Reads an entry; null when the value is not a valid version-1 entry (a damaged index).</summary>
    public static ChunkEntry? TryRead(ReadOnlySpan<byte> value)
    {
        if (value.Length != Size || value[0] != ValueVersion || value[1] is not (1 or 2) || BinaryPrimitives.ReadUInt64LittleEndian(value[56..]) != 0)
            return null;
        var entry = new ChunkEntry(
            (ChunkKeyKind)value[1],
            value[2],
            value[3],
            BinaryPrimitives.ReadInt32LittleEndian(value[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(value[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(value[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(value[24..]),
            BinaryPrimitives.ReadUInt64LittleEndian(value[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(value[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(value[48..]));
        if (entry.TokenCount < 1 || entry.Offset < Segments.SegmentFormat.HeaderSize || entry.Offset % Segments.SegmentFormat.BlockSize != 0
            || entry.RecordLength < ChunkRecordFormat.FixedHeaderSize || entry.RecordLength > int.MaxValue)
            return null;
        return entry;
    }
}
