using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using KvTier.Format.Codecs;
using KvTier.Layout;

namespace KvTier.Format;

/// <summary>
/// Encodes a <see cref="KvChunk"/> into a chunk record (format-spec/kvtier-format.md §2). Deterministic: the same
/// chunk, metadata, codec and level give the same bytes.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
public static class ChunkRecordWriter
{
    /// <summary>Encodes a chunk.</summary>
    /// <param name="chunk">The KV; its layout must be the fingerprint's.</param>
    /// <param name="metadata">Model fingerprint, key and positions.</param>
    /// <param name="codec">The codec; default: <see cref="ChunkCodecs.Default"/>.</param>
    /// <param name="level">The codec level; default: the codec's default level.</param>
    /// <returns>The record.</returns>
    /// <exception cref="ArgumentException">The chunk and metadata disagree, the codec or level is unknown, a lossy codec meets a non-finite value, or the record would exceed the format's or memory's limits.</exception>
    public static byte[] Encode(KvChunk chunk, ChunkRecordMetadata metadata, CodecId? codec = null, int? level = null)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        ArgumentNullException.ThrowIfNull(metadata);
        CodecInfo info = ChunkCodecs.TryGet(codec ?? ChunkCodecs.Default.Id, out CodecInfo? found)
            ? found
            : throw new ArgumentOutOfRangeException(nameof(codec), codec, "Unknown codec.");
        int lvl = level ?? info.DefaultLevel;
        if (!info.HasLevel(lvl))
            throw new ArgumentOutOfRangeException(nameof(level), lvl, $"Codec {info.Name} has levels {info.MinLevel} to {info.MaxLevel}.");
        KvLayout layout = metadata.Fingerprint.Layout;
        if (layout != chunk.Layout)
            throw new ArgumentException("The chunk's layout is not the fingerprint's layout.", nameof(chunk));
        if (metadata.FirstPosition < 0 || (long)metadata.FirstPosition + chunk.TokenCount > ChunkRecordFormat.MaxPositionEnd)
            throw new ArgumentOutOfRangeException(nameof(metadata), metadata.FirstPosition, "First position + token count must be within [0, 2^31].");
        if (metadata.KeyKind is not (ChunkKeyKind.Prefix or ChunkKeyKind.Segment))
            throw new ArgumentOutOfRangeException(nameof(metadata), metadata.KeyKind, "Unknown key kind.");

        byte[][] payloads = EncodeSections(chunk, info.Id, lvl);

        byte[] modelId = Encoding.UTF8.GetBytes(metadata.Fingerprint.ModelId);
        int headerSize = ChunkRecordFormat.FixedHeaderSize + (int)ChunkRecordFormat.Align(modelId.Length, 8);
        long tableEnd = headerSize + (long)payloads.Length * ChunkRecordFormat.SectionEntrySize;
        var offsets = new long[payloads.Length];
        long position = ChunkRecordFormat.Align(tableEnd, ChunkRecordFormat.PayloadAlignment);
        for (int j = 0; j < payloads.Length; j++)
        {
            position = ChunkRecordFormat.Align(position, ChunkRecordFormat.PayloadAlignment);
            offsets[j] = position;
            position += payloads[j].Length;
        }

        long recordLength = position;
        if (recordLength > Array.MaxLength)
            throw new ArgumentException($"The record would be {recordLength} bytes, more than one array can hold; use smaller chunks.", nameof(chunk));

        var record = new byte[recordLength];
        Span<byte> r = record;
        ChunkRecordFormat.Magic.CopyTo(r);
        BinaryPrimitives.WriteUInt16LittleEndian(r[8..], ChunkRecordFormat.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(r[10..], ChunkRecordFormat.MinimumWriteVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(r[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(r[16..], (uint)headerSize);
        BinaryPrimitives.WriteUInt16LittleEndian(r[20..], ChunkRecordFormat.SectionEntrySize);
        r[22] = (byte)info.Id;
        r[23] = (byte)lvl;
        BinaryPrimitives.WriteUInt32LittleEndian(r[24..], (uint)layout.Layers);
        BinaryPrimitives.WriteUInt32LittleEndian(r[28..], (uint)layout.KvHeads);
        BinaryPrimitives.WriteUInt32LittleEndian(r[32..], (uint)layout.HeadDim);
        r[36] = (byte)layout.ElementType;
        r[37] = (byte)layout.Rope.Pairing;
        r[38] = layout.KeysStoredAfterRope ? (byte)1 : (byte)0;
        r[39] = (byte)metadata.KeyKind;
        BinaryPrimitives.WriteDoubleLittleEndian(r[40..], layout.Rope.Theta);
        BinaryPrimitives.WriteUInt32LittleEndian(r[48..], (uint)layout.Rope.RotaryDims);
        BinaryPrimitives.WriteUInt32LittleEndian(r[52..], (uint)chunk.TokenCount);
        BinaryPrimitives.WriteUInt32LittleEndian(r[56..], (uint)metadata.FirstPosition);
        BinaryPrimitives.WriteUInt32LittleEndian(r[60..], (uint)payloads.Length);
        metadata.Key.CopyTo(r[64..]);
        metadata.Fingerprint.Digest.CopyTo(r[96..]);
        BinaryPrimitives.WriteUInt64LittleEndian(r[128..], (ulong)recordLength);
        BinaryPrimitives.WriteUInt16LittleEndian(r[136..], (ushort)modelId.Length);
        modelId.CopyTo(r[ChunkRecordFormat.FixedHeaderSize..]);

        for (int j = 0; j < payloads.Length; j++)
        {
            Span<byte> entry = r.Slice(headerSize + j * ChunkRecordFormat.SectionEntrySize, ChunkRecordFormat.SectionEntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(entry, (ulong)offsets[j]);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], (ulong)payloads[j].Length);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[16..], XxHash3.HashToUInt64(payloads[j]));
            BinaryPrimitives.WriteUInt16LittleEndian(entry[24..], (ushort)(j / 2));
            entry[26] = (byte)(j % 2);
            payloads[j].CopyTo(r[(int)offsets[j]..]);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(r[ChunkRecordFormat.ChecksumOffset..], XxHash3.HashToUInt64(r[..(int)tableEnd]));
        return record;
    }

    private static byte[][] EncodeSections(KvChunk chunk, CodecId codec, int level)
    {
        KvLayout layout = chunk.Layout;
        var payloads = new byte[2 * layout.Layers][];
        float[]? values = codec == CodecId.Raw ? null : new float[chunk.ElementsPerSection];
        for (int j = 0; j < payloads.Length; j++)
        {
            int layer = j / 2;
            var kind = (SectionKind)(j % 2);
            if (values is null)
            {
                payloads[j] = chunk.Section(layer, kind).ToArray();
                continue;
            }

            chunk.GetSingle(layer, kind, values);
            var context = new SectionContext(layout, chunk.TokenCount, layer, kind);
            payloads[j] = ChunkCodecs.Lossy(codec).Encode(context, values, level);
        }

        return payloads;
    }
}
