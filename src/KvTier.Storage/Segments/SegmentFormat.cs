using System.Buffers.Binary;
using System.IO.Hashing;
using KvTier.Keys;

namespace KvTier.Storage.Segments;

/// <summary>
/// Constants and (de)serialization of segment files (format-spec/segment-file.md): the 4 KiB segment header, the
/// record trailer that follows each chunk record, and tombstone frames. Every frame starts on a 4 KiB boundary.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
public static class SegmentFormat
{
    /// <summary>Segment format version written by this code (§2).</summary>
    public const ushort Version = 1;

    /// <summary>Oldest segment version this code reads.</summary>
    public const ushort MinimumReadableVersion = 1;

    /// <summary>Oldest reader version that can read what this code writes.</summary>
    public const ushort MinimumReaderForWrites = 1;

    /// <summary>Frame alignment and segment header size: 4 KiB (§1).</summary>
    public const int BlockSize = 4096;

    /// <summary>Bytes of the segment header (§2).</summary>
    public const int HeaderSize = BlockSize;

    /// <summary>Bytes of the trailer after each chunk record (§3.2).</summary>
    public const int TrailerSize = 64;

    /// <summary>Bytes of a tombstone frame before its keys (§4).</summary>
    public const int TombstoneFixedSize = 32;

    /// <summary>Most keys in one tombstone frame (§4): bounds what a reader allocates.</summary>
    public const int MaxTombstoneKeys = 65536;

    /// <summary>Largest segment capacity: 64 GiB (§8). A reader maps the whole capacity, so it must be bounded.</summary>
    public const long MaxCapacity = 64L << 30;

    /// <summary>The file name extension of segment files.</summary>
    public const string FileExtension = ".kvseg";

    /// <summary>Segment header magic: <c>\x89 K V S E G \r \n</c>.</summary>
    public static ReadOnlySpan<byte> SegmentMagic => [0x89, 0x4B, 0x56, 0x53, 0x45, 0x47, 0x0D, 0x0A];

    /// <summary>Record trailer magic: <c>K V T R A I L \x01</c>.</summary>
    public static ReadOnlySpan<byte> TrailerMagic => [0x4B, 0x56, 0x54, 0x52, 0x41, 0x49, 0x4C, 0x01];

    /// <summary>Tombstone frame magic: <c>\x89 K V D E L \r \n</c>.</summary>
    public static ReadOnlySpan<byte> TombstoneMagic => [0x89, 0x4B, 0x56, 0x44, 0x45, 0x4C, 0x0D, 0x0A];

    /// <summary>Rounds up to a multiple of <paramref name="alignment"/> (a power of two).</summary>
    public static long Align(long value, long alignment) => (value + alignment - 1) & ~(alignment - 1);

    /// <summary>Where a record's trailer starts, relative to the frame: the record's length rounded up to 8.</summary>
    public static long TrailerOffset(long recordLength) => Align(recordLength, 8);

    /// <summary>Bytes a record of <paramref name="recordLength"/> bytes occupies in a segment (§3): record, trailer, padding to 4 KiB.</summary>
    public static long RecordFrameSize(long recordLength) => Align(TrailerOffset(recordLength) + TrailerSize, BlockSize);

    /// <summary>Bytes a tombstone frame of <paramref name="keyCount"/> keys occupies (§4).</summary>
    public static long TombstoneFrameSize(int keyCount) => Align(TombstoneFixedSize + 32L * keyCount + 8, BlockSize);

    /// <summary>The file name of a segment: its id as 16 lower-case hex digits.</summary>
    public static string FileName(ulong segmentId) => segmentId.ToString("x16", System.Globalization.CultureInfo.InvariantCulture) + FileExtension;

    /// <summary>Parses a segment file name; false for anything else.</summary>
    public static bool TryParseFileName(string fileName, out ulong segmentId)
    {
        segmentId = 0;
        return fileName.Length == 16 + FileExtension.Length
            && fileName.EndsWith(FileExtension, StringComparison.Ordinal)
            && ulong.TryParse(fileName.AsSpan(0, 16), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out segmentId)
            && FileName(segmentId) == fileName;
    }

    // Segment header (§2):
    //   0   8  magic
    //   8   2  format version
    //  10   2  minimum reader version
    //  12   4  header size (4096)
    //  16   8  segment id
    //  24  16  store id
    //  40   4  block size (4096)
    //  44   4  flags (reserved, 0)
    //  48   8  capacity (bytes)
    //  56   8  created, Unix milliseconds (unused by readers)
    //  64 ...  reserved, 0
    // 4088  8  XXH3-64 of bytes [0, 4088)
    internal static void WriteHeader(Span<byte> block, ulong segmentId, Guid storeId, long capacity, long createdUnixMs)
    {
        block[..HeaderSize].Clear();
        SegmentMagic.CopyTo(block);
        BinaryPrimitives.WriteUInt16LittleEndian(block[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(block[10..], MinimumReaderForWrites);
        BinaryPrimitives.WriteUInt32LittleEndian(block[12..], HeaderSize);
        BinaryPrimitives.WriteUInt64LittleEndian(block[16..], segmentId);
        storeId.TryWriteBytes(block.Slice(24, 16));
        BinaryPrimitives.WriteUInt32LittleEndian(block[40..], BlockSize);
        BinaryPrimitives.WriteInt64LittleEndian(block[48..], capacity);
        BinaryPrimitives.WriteInt64LittleEndian(block[56..], createdUnixMs);
        BinaryPrimitives.WriteUInt64LittleEndian(block[(HeaderSize - 8)..], XxHash3.HashToUInt64(block[..(HeaderSize - 8)]));
    }

    /// <summary>Reads and checks a segment header.</summary>
    /// <exception cref="SegmentFormatException">The header is not a valid segment header.</exception>
    internal static SegmentHeader ReadHeader(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.Length < HeaderSize)
            throw new SegmentFormatException($"{bytes.Length} bytes are fewer than the {HeaderSize}-byte segment header.", path, bytes.Length);
        if (!bytes[..8].SequenceEqual(SegmentMagic))
            throw new SegmentFormatException("not a KvTier segment file (bad magic).", path, 0);
        if (BinaryPrimitives.ReadUInt64LittleEndian(bytes[(HeaderSize - 8)..]) != XxHash3.HashToUInt64(bytes[..(HeaderSize - 8)]))
            throw new SegmentFormatException("the segment header checksum does not match.", path, HeaderSize - 8);
        ushort minReader = BinaryPrimitives.ReadUInt16LittleEndian(bytes[10..]);
        if (minReader > Version)
            throw new SegmentFormatException($"the segment needs a version {minReader} reader; this is version {Version}.", path, 10);
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]) != HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes[40..]) != BlockSize)
            throw new SegmentFormatException("header size or block size is not 4096.", path, 12);
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes[44..]) != 0)
            throw new SegmentFormatException("reserved header flags are set.", path, 44);
        long capacity = BinaryPrimitives.ReadInt64LittleEndian(bytes[48..]);
        if (capacity < HeaderSize + BlockSize || capacity > MaxCapacity || capacity % BlockSize != 0)
            throw new SegmentFormatException($"capacity {capacity} is not a multiple of {BlockSize} between {HeaderSize + BlockSize} and {MaxCapacity}.", path, 48);
        return new SegmentHeader(BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]), new Guid(bytes.Slice(24, 16)), capacity);
    }

    // Record trailer (§3.2), at TrailerOffset(recordLength) from the frame start:
    //   0   8  magic
    //   8   8  sequence number
    //  16   8  record length
    //  24   8  XXH3-64 of the record's bytes
    //  32  24  reserved, 0
    //  56   8  XXH3-64 of trailer bytes [0, 56)
    internal static void WriteTrailer(Span<byte> trailer, ulong sequence, long recordLength, ulong recordChecksum)
    {
        trailer[..TrailerSize].Clear();
        TrailerMagic.CopyTo(trailer);
        BinaryPrimitives.WriteUInt64LittleEndian(trailer[8..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(trailer[16..], recordLength);
        BinaryPrimitives.WriteUInt64LittleEndian(trailer[24..], recordChecksum);
        BinaryPrimitives.WriteUInt64LittleEndian(trailer[56..], XxHash3.HashToUInt64(trailer[..56]));
    }

    /// <summary>Reads a trailer; false when it is not a valid trailer for a record of <paramref name="recordLength"/> bytes.</summary>
    internal static bool TryReadTrailer(ReadOnlySpan<byte> trailer, long recordLength, out ulong sequence, out ulong recordChecksum)
    {
        sequence = 0;
        recordChecksum = 0;
        if (trailer.Length < TrailerSize || !trailer[..8].SequenceEqual(TrailerMagic)
            || BinaryPrimitives.ReadUInt64LittleEndian(trailer[56..]) != XxHash3.HashToUInt64(trailer[..56])
            || BinaryPrimitives.ReadInt64LittleEndian(trailer[16..]) != recordLength
            || trailer.Slice(32, 24).ContainsAnyExcept((byte)0))
            return false;
        sequence = BinaryPrimitives.ReadUInt64LittleEndian(trailer[8..]);
        recordChecksum = BinaryPrimitives.ReadUInt64LittleEndian(trailer[24..]);
        return true;
    }

    // Tombstone frame (§4):
    //   0   8  magic
    //   8   2  version (1)
    //  10   2  reserved, 0
    //  12   4  key count n, 1..65536
    //  16   8  sequence number
    //  24   8  reserved, 0
    //  32  32n keys
    //  32+32n 8  XXH3-64 of bytes [0, 32+32n)
    internal static void WriteTombstone(Span<byte> frame, ulong sequence, ReadOnlySpan<ChunkKey> keys)
    {
        int end = TombstoneFixedSize + 32 * keys.Length;
        frame[..(end + 8)].Clear();
        TombstoneMagic.CopyTo(frame);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[8..], 1);
        BinaryPrimitives.WriteInt32LittleEndian(frame[12..], keys.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[16..], sequence);
        for (int i = 0; i < keys.Length; i++)
            keys[i].CopyTo(frame.Slice(TombstoneFixedSize + 32 * i, 32));
        BinaryPrimitives.WriteUInt64LittleEndian(frame[end..], XxHash3.HashToUInt64(frame[..end]));
    }

    /// <summary>Reads a tombstone frame's key count and sequence; false when the bytes are not a valid tombstone.</summary>
    internal static bool TryReadTombstone(ReadOnlySpan<byte> frame, out ulong sequence, out int keyCount)
    {
        sequence = 0;
        keyCount = 0;
        if (frame.Length < TombstoneFixedSize + 40 || !frame[..8].SequenceEqual(TombstoneMagic)
            || BinaryPrimitives.ReadUInt16LittleEndian(frame[8..]) != 1 || BinaryPrimitives.ReadUInt16LittleEndian(frame[10..]) != 0
            || BinaryPrimitives.ReadUInt64LittleEndian(frame[24..]) != 0)
            return false;
        int n = BinaryPrimitives.ReadInt32LittleEndian(frame[12..]);
        if (n is < 1 or > MaxTombstoneKeys)
            return false;
        int end = TombstoneFixedSize + 32 * n;
        if (frame.Length < end + 8 || BinaryPrimitives.ReadUInt64LittleEndian(frame[end..]) != XxHash3.HashToUInt64(frame[..end]))
            return false;
        sequence = BinaryPrimitives.ReadUInt64LittleEndian(frame[16..]);
        keyCount = n;
        return true;
    }

    internal static ChunkKey TombstoneKey(ReadOnlySpan<byte> frame, int index) => ChunkKey.FromBytes(frame.Slice(TombstoneFixedSize + 32 * index, 32));
}

/// <summary>The fields of a valid segment header.</summary>
internal readonly record struct SegmentHeader(ulong SegmentId, Guid StoreId, long Capacity);
