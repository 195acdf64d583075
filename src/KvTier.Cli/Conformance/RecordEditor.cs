using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Cli.Conformance;

/// <summary>
/// Edits record bytes the way corruption or a buggy writer would, then re-seals what must stay consistent
/// (checksums, offsets, fingerprint) so that the check a vector targets is the one that fires.
/// Offsets are those of format-spec/kvtier-format.md §2.1–§2.2.
/// </summary>
/// <remarks>Stateless; the methods edit the arrays they are given.</remarks>
internal static class RecordEditor
{
    public static int HeaderSize(ReadOnlySpan<byte> r) => (int)BinaryPrimitives.ReadUInt32LittleEndian(r[16..]);

    public static int EntrySize(ReadOnlySpan<byte> r) => BinaryPrimitives.ReadUInt16LittleEndian(r[20..]);

    public static int SectionCount(ReadOnlySpan<byte> r) => (int)BinaryPrimitives.ReadUInt32LittleEndian(r[60..]);

    public static int ModelIdLength(ReadOnlySpan<byte> r) => BinaryPrimitives.ReadUInt16LittleEndian(r[136..]);

    public static int EntryOffset(ReadOnlySpan<byte> r, int section) => HeaderSize(r) + EntrySize(r) * section;

    public static int SectionOffset(ReadOnlySpan<byte> r, int section) => checked((int)BinaryPrimitives.ReadUInt64LittleEndian(r[EntryOffset(r, section)..]));

    public static int SectionLength(ReadOnlySpan<byte> r, int section) => checked((int)BinaryPrimitives.ReadUInt64LittleEndian(r[(EntryOffset(r, section) + 8)..]));

    /// <summary>Section <paramref name="section"/>'s payload, writable in place (re-seal afterwards).</summary>
    public static Span<byte> Payload(byte[] r, int section) => r.AsSpan(SectionOffset(r, section), SectionLength(r, section));

    public static void WriteU16(byte[] r, int offset, int value) => BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(offset), (ushort)value);

    public static void WriteU32(byte[] r, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(offset), value);

    public static void WriteU64(byte[] r, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(offset), value);

    /// <summary>Recomputes the header checksum (§3) over <c>[0, table_end)</c> as the header's own fields place it.</summary>
    public static byte[] SealHeader(byte[] r)
    {
        int tableEnd = HeaderSize(r) + EntrySize(r) * SectionCount(r);
        var hash = new XxHash3();
        hash.Append(r.AsSpan(0, 152));
        hash.Append(stackalloc byte[8]);
        hash.Append(r.AsSpan(160, tableEnd - 160));
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(152), hash.GetCurrentHashAsUInt64());
        return r;
    }

    /// <summary>Recomputes section <paramref name="section"/>'s checksum after an edit of its payload, then the header checksum.</summary>
    public static byte[] SealSection(byte[] r, int section)
    {
        WriteU64(r, EntryOffset(r, section) + 16, XxHash3.HashToUInt64(Payload(r, section)));
        return SealHeader(r);
    }

    /// <summary>Recomputes the fingerprint (key-derivation.md §2) from the header's model id and layout fields, after a layout edit.</summary>
    public static byte[] Refingerprint(byte[] r)
    {
        var layout = new KvLayout(
            (int)BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(24)),
            (int)BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(28)),
            (int)BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(32)),
            (KvElementType)r[36],
            new RopeParameters(BinaryPrimitives.ReadDoubleLittleEndian(r.AsSpan(40)), (int)BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(48)), (RopePairing)r[37]),
            r[38] == 1);
        string modelId = Encoding.UTF8.GetString(r, 160, ModelIdLength(r));
        ModelFingerprint.Compute(modelId, layout).Digest.CopyTo(r.AsSpan(96));
        return SealHeader(r);
    }

    /// <summary>Every section's payload, in table order.</summary>
    public static byte[][] Payloads(byte[] r)
    {
        var payloads = new byte[SectionCount(r)][];
        for (int j = 0; j < payloads.Length; j++)
            payloads[j] = Payload(r, j).ToArray();
        return payloads;
    }

    /// <summary>The record with section <paramref name="section"/>'s payload replaced (any length) and everything after it moved, re-sealed.</summary>
    public static byte[] ReplacePayload(byte[] r, int section, byte[] payload)
    {
        byte[][] payloads = Payloads(r);
        payloads[section] = payload;
        return Rebuild(r, payloads);
    }

    /// <summary>
    /// Lays a record out again around new payloads, as a writer would (§2): the fixed header and model id of
    /// <paramref name="r"/>, then <paramref name="headerExtension"/> bytes of 0xA5 (fields a later version may add,
    /// §6), a table of <paramref name="entrySize"/>-byte entries (bytes past 32 filled with 0x5A), payloads at
    /// multiples of 64 with zero padding; every checksum sealed.
    /// </summary>
    public static byte[] Rebuild(byte[] r, byte[][] payloads, int headerExtension = 0, int entrySize = 32)
    {
        int modelIdLength = ModelIdLength(r);
        int headerSize = 160 + Align(modelIdLength, 8) + headerExtension;
        long tableEnd = headerSize + (long)entrySize * payloads.Length;
        var offsets = new long[payloads.Length];
        long position = Align(tableEnd, 64);
        for (int j = 0; j < payloads.Length; j++)
        {
            position = Align(position, 64);
            offsets[j] = position;
            position += payloads[j].Length;
        }

        var record = new byte[position];
        r.AsSpan(0, 160 + modelIdLength).CopyTo(record);
        record.AsSpan(headerSize - headerExtension, headerExtension).Fill(0xA5);
        WriteU32(record, 16, (uint)headerSize);
        WriteU16(record, 20, entrySize);
        WriteU32(record, 60, (uint)payloads.Length);
        WriteU64(record, 128, (ulong)position);
        for (int j = 0; j < payloads.Length; j++)
        {
            int at = (int)(headerSize + (long)entrySize * j);
            WriteU64(record, at, (ulong)offsets[j]);
            WriteU64(record, at + 8, (ulong)payloads[j].Length);
            WriteU64(record, at + 16, XxHash3.HashToUInt64(payloads[j]));
            WriteU16(record, at + 24, j / 2);
            record[at + 26] = (byte)(j % 2);
            record.AsSpan(at + 32, entrySize - 32).Fill(0x5A);
            payloads[j].CopyTo(record.AsSpan((int)offsets[j]));
        }

        return SealHeader(record);
    }

    private static int Align(int value, int alignment) => (value + alignment - 1) & ~(alignment - 1);

    private static long Align(long value, int alignment) => (value + alignment - 1) & ~(long)(alignment - 1);
}
