using System.Buffers.Binary;
using KvTier.Storage.Segments;

namespace KvTier.Storage.Index;

/// <summary>A segment's index entry (format-spec/metadata-schema.md §3).</summary>
// Value layout (48 bytes, little-endian):
//   0  1  value version (1)
//   1  1  state (1 active, 2 sealed, 3 retired)
//   2  6  reserved, 0
//   8  8  committed end: frames below it are durable and indexed
//  16  8  capacity
//  24  8  smallest sequence number of any frame (2^64 − 1 when none)
//  32  8  largest sequence number of any frame
//  40  8  reserved, 0
internal readonly record struct SegmentEntry(SegmentState State, long CommittedEnd, long Capacity, ulong MinSequence, ulong MaxSequence)
{
    public const int Size = 48;

    public byte[] ToArray()
    {
        byte[] value = new byte[Size];
        value[0] = 1;
        value[1] = (byte)State;
        BinaryPrimitives.WriteInt64LittleEndian(value.AsSpan(8), CommittedEnd);
        BinaryPrimitives.WriteInt64LittleEndian(value.AsSpan(16), Capacity);
        BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(24), MinSequence);
        BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(32), MaxSequence);
        return value;
    }

    public static SegmentEntry? TryRead(ReadOnlySpan<byte> value)
    {
        if (value.Length != Size || value[0] != 1 || value[1] is < 1 or > 3 || value[2..8].ContainsAnyExcept((byte)0) || BinaryPrimitives.ReadUInt64LittleEndian(value[40..]) != 0)
            return null;
        var entry = new SegmentEntry((SegmentState)value[1], BinaryPrimitives.ReadInt64LittleEndian(value[8..]), BinaryPrimitives.ReadInt64LittleEndian(value[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(value[24..]), BinaryPrimitives.ReadUInt64LittleEndian(value[32..]));
        if (entry.CommittedEnd < SegmentFormat.HeaderSize || entry.CommittedEnd % SegmentFormat.BlockSize != 0 || entry.CommittedEnd > entry.Capacity)
            return null;
        return entry;
    }

    public static byte[] Key(ulong segmentId)
    {
        byte[] key = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(key, segmentId);
        return key;
    }
}
