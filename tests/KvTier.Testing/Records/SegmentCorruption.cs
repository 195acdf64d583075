using KvTier.Format;
using KvTier.Storage;

namespace KvTier.Testing.Records;

/// <summary>Damages a stored record in place, as a bad disk would: for tests of checksum handling.</summary>
public static class SegmentCorruption
{
    /// <summary>
    /// Flips one bit in the middle of <paramref name="record"/>'s section payload in whichever segment file of the store in
    /// <paramref name="storeDirectory"/> holds it. The store must be closed.
    /// </summary>
    /// <returns>False when no segment file holds the record.</returns>
    public static bool FlipPayloadByte(string storeDirectory, byte[] record, int layer, SectionKind kind)
    {
        SectionEntry section = ChunkRecord.Parse(record).Sections[2 * layer + (int)kind];
        foreach (string file in Directory.GetFiles(Path.Combine(storeDirectory, KvStore.SegmentDirectoryName)))
        {
            byte[] bytes = File.ReadAllBytes(file);
            int at = bytes.AsSpan().IndexOf(record);
            if (at < 0)
                continue;
            using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
            long offset = at + section.Offset + section.Length / 2;
            stream.Position = offset;
            int b = stream.ReadByte();
            stream.Position = offset;
            stream.WriteByte((byte)(b ^ 0x10));
            return true;
        }

        return false;
    }
}
