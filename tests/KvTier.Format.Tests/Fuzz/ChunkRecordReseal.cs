using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Fuzz;

/// <summary>
/// Recomputes what a chunk record's writer derives from the rest — the fingerprint (key-derivation.md §2), each section's
/// XXH3-64 and the header's XXH3-64 (format-spec/kvtier-format.md §3) — from whatever the bytes say, so that a mutated
/// input gets past those checks. Harness code, not a reader: it never throws on bad input, it just reseals what it can.
/// </summary>
internal static class ChunkRecordReseal
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>A resealed copy of <paramref name="input"/>, or null when it is shorter than the fixed header.</summary>
    public static byte[]? Reseal(ReadOnlySpan<byte> input)
    {
        if (input.Length < 160)
            return null;
        byte[] record = input.ToArray();
        Span<byte> r = record;
        ResealFingerprint(r);

        long headerSize = BinaryPrimitives.ReadUInt32LittleEndian(r[16..]);
        int entrySize = BinaryPrimitives.ReadUInt16LittleEndian(r[20..]);
        long sectionCount = BinaryPrimitives.ReadUInt32LittleEndian(r[60..]);
        long tableEnd = headerSize + sectionCount * entrySize;
        if (headerSize < 160 || tableEnd > r.Length)
            return record; // the reader stops before any checksum

        // Section checksums sit in the table, which the header checksum covers: payloads first.
        if (entrySize >= 32)
        {
            for (long j = 0; j < sectionCount; j++)
            {
                Span<byte> entry = r.Slice((int)(headerSize + j * entrySize), 32);
                ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(entry);
                ulong length = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
                if (offset <= (ulong)r.Length && length <= (ulong)r.Length - offset)
                    BinaryPrimitives.WriteUInt64LittleEndian(entry[16..], XxHash3.HashToUInt64(r.Slice((int)offset, (int)length)));
            }
        }

        r.Slice(152, 8).Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(r[152..], XxHash3.HashToUInt64(r[..(int)tableEnd]));
        return record;
    }

    // The fingerprint of the model id and layout the header states, when they make a valid layout.
    private static void ResealFingerprint(Span<byte> r)
    {
        int modelIdLength = BinaryPrimitives.ReadUInt16LittleEndian(r[136..]);
        if (modelIdLength is < 1 or > ModelFingerprint.MaxModelIdBytes || 160 + modelIdLength > r.Length || r[38] > 1)
            return;
        uint layers = BinaryPrimitives.ReadUInt32LittleEndian(r[24..]);
        uint kvHeads = BinaryPrimitives.ReadUInt32LittleEndian(r[28..]);
        uint headDim = BinaryPrimitives.ReadUInt32LittleEndian(r[32..]);
        uint rotaryDims = BinaryPrimitives.ReadUInt32LittleEndian(r[48..]);
        if (layers > int.MaxValue || kvHeads > int.MaxValue || headDim > int.MaxValue || rotaryDims > int.MaxValue)
            return;

        string modelId;
        try
        {
            modelId = StrictUtf8.GetString(r.Slice(160, modelIdLength));
        }
        catch (DecoderFallbackException)
        {
            return;
        }

        try
        {
            var rope = new RopeParameters(BinaryPrimitives.ReadDoubleLittleEndian(r[40..]), (int)rotaryDims, (RopePairing)r[37]);
            var layout = new KvLayout((int)layers, (int)kvHeads, (int)headDim, (KvElementType)r[36], rope, r[38] == 1);
            ModelFingerprint.Compute(modelId, layout).Digest.CopyTo(r[96..]);
        }
        catch (ArgumentException)
        {
            // Not a valid layout or model id: the reader rejects it before the fingerprint matters.
        }
    }
}
