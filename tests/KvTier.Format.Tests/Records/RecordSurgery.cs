using System.Buffers.Binary;
using System.IO.Hashing;

namespace KvTier.Format.Tests.Records;

/// <summary>Edits records the way corruption or a buggy writer would, optionally re-sealing checksums so that deeper checks are reached.</summary>
internal static class RecordSurgery
{
    public static int HeaderSize(byte[] record) => BinaryPrimitives.ReadInt32LittleEndian(record.AsSpan(16));

    public static int SectionCount(byte[] record) => BinaryPrimitives.ReadInt32LittleEndian(record.AsSpan(60));

    public static int EntryOffset(byte[] record, int section) => HeaderSize(record) + 32 * section;

    public static long SectionOffset(byte[] record, int section) => BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(EntryOffset(record, section)));

    public static long SectionLength(byte[] record, int section) => BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(EntryOffset(record, section) + 8));

    /// <summary>Recomputes the header checksum (spec §3) after an edit to the header or table.</summary>
    public static byte[] SealHeader(byte[] record)
    {
        int tableEnd = HeaderSize(record) + 32 * SectionCount(record);
        var copy = record.AsSpan(0, tableEnd).ToArray();
        copy.AsSpan(152, 8).Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(152), XxHash3.HashToUInt64(copy));
        return record;
    }

    /// <summary>Recomputes section <paramref name="section"/>'s checksum after an edit to its payload, then the header checksum.</summary>
    public static byte[] SealSection(byte[] record, int section)
    {
        long offset = SectionOffset(record, section);
        long length = SectionLength(record, section);
        BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(EntryOffset(record, section) + 16), XxHash3.HashToUInt64(record.AsSpan((int)offset, (int)length)));
        return SealHeader(record);
    }
}
