using System.Buffers.Binary;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage.Segments;

namespace KvTier.Storage.Tests;

/// <summary>One frame of an undamaged segment file, as the format spec lays it out (format-spec/segment-file.md §3, §4).</summary>
internal sealed record LayoutFrame(ulong SegmentId, long Offset, long Size, long RecordLength, ChunkKey? Key, IReadOnlyList<ChunkKey> TombstoneKeys)
{
    public bool IsTombstone => Key is null;

    /// <summary>Where the record trailer starts, relative to the frame.</summary>
    public long TrailerOffset => SegmentFormat.TrailerOffset(RecordLength);

    /// <summary>Bytes a tombstone's checks cover (magic to checksum); its padding follows.</summary>
    public long TombstoneCheckedLength => SegmentFormat.TombstoneFixedSize + 32L * TombstoneKeys.Count + 8;

    public bool Contains(long offset) => offset >= Offset && offset < Offset + Size;
}

/// <summary>Reads the frames of a segment file the test wrote, independently of the store's scanner.</summary>
internal static class SegmentLayout
{
    public static List<LayoutFrame> Read(string path)
    {
        if (!SegmentFormat.TryParseFileName(Path.GetFileName(path), out ulong id))
            throw new ArgumentException($"{path} is not named like a segment.", nameof(path));
        byte[] bytes = File.ReadAllBytes(path);
        var frames = new List<LayoutFrame>();
        for (long offset = SegmentFormat.HeaderSize; offset + 8 <= bytes.Length;)
        {
            ReadOnlySpan<byte> magic = bytes.AsSpan((int)offset, 8);
            if (magic.SequenceEqual(ChunkRecordFormat.Magic))
            {
                ChunkRecordHeader header = ChunkRecord.Parse(bytes.AsMemory((int)offset), path, allowTrailingBytes: true, maxDecodedBytes: long.MaxValue).Header;
                long size = SegmentFormat.RecordFrameSize(header.RecordLength);
                frames.Add(new LayoutFrame(id, offset, size, header.RecordLength, header.Key, []));
                offset += size;
            }
            else if (magic.SequenceEqual(SegmentFormat.TombstoneMagic))
            {
                int count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan((int)offset + 12));
                var keys = new ChunkKey[count];
                for (int i = 0; i < count; i++)
                    keys[i] = ChunkKey.FromBytes(bytes.AsSpan((int)offset + SegmentFormat.TombstoneFixedSize + 32 * i, 32));
                long size = SegmentFormat.TombstoneFrameSize(count);
                frames.Add(new LayoutFrame(id, offset, size, 0, null, keys));
                offset += size;
            }
            else
            {
                offset += SegmentFormat.BlockSize; // Only zeros past the last frame of an undamaged segment.
            }
        }
        return frames;
    }
}
