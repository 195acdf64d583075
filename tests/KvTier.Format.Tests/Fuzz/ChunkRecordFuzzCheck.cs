using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Fuzz;

/// <summary>
/// The <c>chunk-record</c> fuzz check (format-spec/kvtier-format.md §2–§5): <see cref="ChunkRecord.Parse"/>, then
/// <see cref="ChunkRecord.FirstNonZeroPadding"/> and <see cref="ChunkRecord.Decode"/>. The reader may only succeed or throw
/// <see cref="ChunkRecordException"/>; it may not allocate more than <see cref="AllocationBound"/>; and what it accepts must
/// obey the spec's field rules and survive decoding and re-encoding. Anything else escapes as an exception: AFL records it
/// as a crash, the replay test as a failure.
/// </summary>
/// <remarks>
/// <para>
/// One file serves both fuzz/KvTier.Fuzz (which links it) and <c>CorpusReplayTests</c>, so an input saved from AFL
/// replays in CI exactly as it ran under AFL.
/// </para>
/// <para>
/// Each input runs twice: as it is, which reaches the checks up to the header checksum, and resealed — fingerprint,
/// section checksums and header checksum recomputed from what the input says (<see cref="ChunkRecordReseal"/>) — so
/// that mutations reach the layout checks, the section table and the codecs behind the SHA-256 and XXH3 checks, which
/// random mutation almost never passes. Stateless; may run on several threads (allocation is counted per thread).
/// </para>
/// </remarks>
internal static class ChunkRecordFuzzCheck
{
    private const string Source = "fuzz-input";

    // Until the ans codec is in the build, ChunkCodecs.Lossy(Ans) throws NotSupportedException for any ans record.
    private static readonly bool AnsAvailable = ProbeAns();

    /// <summary>Most bytes reading an input of <paramref name="inputLength"/> bytes may allocate: 64 × the input + 1 MiB.</summary>
    public static long AllocationBound(int inputLength) => 64L * inputLength + (1 << 20);

    /// <summary>Runs the check on <paramref name="input"/> as it is and resealed.</summary>
    /// <returns>For each run, null when the record was accepted, else the kind of error the reader reported.</returns>
    /// <exception cref="InvalidOperationException">The reader broke a rule: it allocated too much, or accepted something it should not have.</exception>
    /// <remarks>Any other exception than <see cref="InvalidOperationException"/> comes from the reader itself and is a finding too.</remarks>
    public static (ChunkRecordErrorKind? AsIs, ChunkRecordErrorKind? Resealed) Run(byte[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ChunkRecordErrorKind? asIs = Check(input);
        byte[]? resealed = ChunkRecordReseal.Reseal(input);
        if (resealed is null || resealed.AsSpan().SequenceEqual(input))
            return (asIs, asIs);
        return (asIs, Check(resealed));
    }

    private static ChunkRecordErrorKind? Check(byte[] input)
    {
        ChunkRecord? record = null;
        KvChunk? chunk = null;
        long? padding = null;
        ChunkRecordErrorKind? rejected = null;
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            // The reader's decode limit is what bounds memory for entropy-coded payloads (a constant section codes at ~0 bits
            // per element): a quarter of the allocation bound leaves room for the decoder's working buffers.
            record = ChunkRecord.Parse(input, Source, maxDecodedBytes: AllocationBound(input.Length) / 4);
            padding = record.FirstNonZeroPadding();
            chunk = record.Decode();
        }
        catch (ChunkRecordException e)
        {
            rejected = e.Kind;
        }
        catch (NotSupportedException) when (!AnsAvailable && input.Length > 22 && input[22] == (byte)CodecId.Ans)
        {
            rejected = ChunkRecordErrorKind.UnknownCodec; // to this build, which lacks the ans codec
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > AllocationBound(input.Length))
        {
            throw new InvalidOperationException(
                $"Reading a {input.Length}-byte input allocated {allocated:N0} bytes, over the bound of {AllocationBound(input.Length):N0} " +
                $"({(rejected is null ? "accepted" : $"then rejected it as {rejected}")}{(record is null ? "" : $"; {Describe(record.Header)}")}).");
        }

        if (record is not null)
        {
            CheckHeaderRules(input, record);
            CheckSectionTable(input, record);
            if (padding is long firstPadding)
                CheckPadding(input, record, firstPadding);
        }

        if (rejected is not null)
            return rejected;
        CheckDecoded(record!, chunk!);
        CheckReencoded(input, record!, chunk!, padding!.Value);
        return null;
    }

    /// <summary>The field rules of §2.1, §4 and §6, read again from the bytes: an accepted header must obey every one.</summary>
    private static void CheckHeaderRules(byte[] input, ChunkRecord record)
    {
        ReadOnlySpan<byte> r = input;
        ChunkRecordHeader header = record.Header;
        ushort formatVersion = BinaryPrimitives.ReadUInt16LittleEndian(r[8..]);
        ushort minReader = BinaryPrimitives.ReadUInt16LittleEndian(r[10..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(r[12..]);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(r[16..]);
        ushort entrySize = BinaryPrimitives.ReadUInt16LittleEndian(r[20..]);
        uint layers = BinaryPrimitives.ReadUInt32LittleEndian(r[24..]);
        uint kvHeads = BinaryPrimitives.ReadUInt32LittleEndian(r[28..]);
        uint headDim = BinaryPrimitives.ReadUInt32LittleEndian(r[32..]);
        byte elementType = r[36], pairing = r[37], keysAfterRope = r[38], keyKind = r[39];
        ulong thetaBits = BinaryPrimitives.ReadUInt64LittleEndian(r[40..]);
        double theta = BitConverter.UInt64BitsToDouble(thetaBits);
        uint rotaryDims = BinaryPrimitives.ReadUInt32LittleEndian(r[48..]);
        uint tokenCount = BinaryPrimitives.ReadUInt32LittleEndian(r[52..]);
        uint firstPosition = BinaryPrimitives.ReadUInt32LittleEndian(r[56..]);
        uint sectionCount = BinaryPrimitives.ReadUInt32LittleEndian(r[60..]);
        ulong recordLength = BinaryPrimitives.ReadUInt64LittleEndian(r[128..]);
        ushort modelIdLength = BinaryPrimitives.ReadUInt16LittleEndian(r[136..]);
        long v1HeaderSize = 160 + Pad(modelIdLength, 8);

        Expect(formatVersion >= 1 && minReader <= ChunkRecordFormat.Version && formatVersion >= minReader, "versions", header);
        Expect((flags & 0xFFFF) == 0 && r[138..152].IndexOfAnyExcept((byte)0) < 0, "reserved bits and bytes are zero", header);
        Expect(formatVersion == 1 ? headerSize == v1HeaderSize && entrySize == 32 : headerSize >= v1HeaderSize && entrySize >= 32,
            "header_size and section_entry_size", header);
        Expect(ChunkCodecs.TryGet((CodecId)r[22], out CodecInfo? codec) && codec.HasLevel(r[23]), "codec and level", header);
        Expect(layers is >= 1 and <= 1024 && kvHeads is >= 1 and <= 1024 && headDim is >= 1 and <= 4096 && kvHeads * headDim <= 65536,
            "layers, kv_heads, head_dim", header);
        Expect(elementType is >= 1 and <= 3 && pairing <= 2 && keysAfterRope <= 1 && keyKind is 1 or 2, "enumerated fields", header);
        if (pairing == 0)
            Expect(keysAfterRope == 0 && thetaBits == 0 && rotaryDims == 0, "no RoPE: keys_after_rope 0, rope_theta +0.0, rotary_dims 0", header);
        else
            Expect(double.IsFinite(theta) && theta > 0 && rotaryDims % 2 == 0 && rotaryDims >= 2 && rotaryDims <= headDim, "RoPE: theta > 0, even rotary_dims ≤ head_dim", header);
        Expect(tokenCount is >= 1 and <= 1 << 20 && (long)tokenCount * kvHeads * headDim <= 1 << 27, "token_count", header);
        Expect((long)firstPosition + tokenCount <= 1L << 31, "first_position + token_count ≤ 2^31", header);
        Expect(sectionCount == 2 * layers && recordLength <= 1UL << 40 && modelIdLength is >= 1 and <= 255, "section_count, record_length, model_id_length", header);
        Expect(recordLength == (ulong)input.Length && record.Bytes.Length == input.Length, "record_length is the input's length", header);

        // The header the reader returns says what the bytes say.
        Expect(header.FormatVersion == formatVersion && header.MinReaderVersion == minReader && header.Flags == flags && header.HeaderSize == headerSize &&
            header.RecordLength == (long)recordLength && (byte)header.Codec == r[22] && header.Level == r[23] && header.TokenCount == tokenCount &&
            header.FirstPosition == firstPosition && (byte)header.KeyKind == keyKind, "header fields match the bytes", header);
        KvLayout layout = header.Layout;
        Expect(layout.Layers == layers && layout.KvHeads == kvHeads && layout.HeadDim == headDim && (byte)layout.ElementType == elementType &&
            (byte)layout.Rope.Pairing == pairing && BitConverter.DoubleToUInt64Bits(layout.Rope.Theta) == thetaBits &&
            layout.Rope.RotaryDims == rotaryDims && layout.KeysStoredAfterRope == (keysAfterRope == 1), "layout matches the bytes", header);
        Expect(Encoding.UTF8.GetBytes(header.ModelId).AsSpan().SequenceEqual(r.Slice(160, modelIdLength)), "model id round-trips as UTF-8", header);
        Expect(header.Fingerprint.Digest.SequenceEqual(r.Slice(96, 32)) && ModelFingerprint.Compute(header.ModelId, layout).Digest.SequenceEqual(r.Slice(96, 32)),
            "fingerprint matches model id and layout", header);
        Expect(header.Key.ToArray().AsSpan().SequenceEqual(r.Slice(64, 32)), "chunk key matches the bytes", header);
    }

    /// <summary>§2.2 on the accepted table: aligned, in order, labelled, non-empty, ending at record_length.</summary>
    private static void CheckSectionTable(byte[] input, ChunkRecord record)
    {
        ChunkRecordHeader header = record.Header;
        long previousEnd = Pad(RealTableEnd(input, header), 64);
        Expect(record.Sections.Count == header.SectionCount, "one section per layer and kind", header);
        for (int j = 0; j < record.Sections.Count; j++)
        {
            SectionEntry e = record.Sections[j];
            Expect(e.Layer == j / 2 && (int)e.Kind == j % 2 && e.Offset % 64 == 0 && e.Offset >= previousEnd && e.Length >= 1 && e.Length <= int.MaxValue,
                $"section {j} is labelled, aligned, in order and non-empty", header);
            previousEnd = e.Offset + e.Length;
        }

        Expect(previousEnd == header.RecordLength, "the last section ends at record_length", header);
    }

    /// <summary>
    /// <see cref="ChunkRecord.FirstNonZeroPadding"/> against the padding of §2: after the model id up to a multiple of 8, after
    /// the table (section_entry_size bytes per entry) up to the first payload, and between payloads. Header fields past the
    /// model id and entry bytes past 32 (format_version &gt; 1, §6) are not padding.
    /// </summary>
    private static void CheckPadding(byte[] input, ChunkRecord record, long padding)
    {
        ChunkRecordHeader header = record.Header;
        int modelIdEnd = 160 + BinaryPrimitives.ReadUInt16LittleEndian(input.AsSpan(136));
        long expected = FirstNonZero(input, modelIdEnd, 160 + Pad(modelIdEnd - 160, 8));
        long previousEnd = RealTableEnd(input, header);
        foreach (SectionEntry e in record.Sections)
        {
            if (expected >= 0)
                break;
            expected = FirstNonZero(input, previousEnd, e.Offset);
            previousEnd = e.Offset + e.Length;
        }

        if (padding != expected)
        {
            throw new InvalidOperationException(
                $"FirstNonZeroPadding returned {padding}; the first non-zero padding byte is at {expected} ({Describe(header)}, " +
                $"section_entry_size {BinaryPrimitives.ReadUInt16LittleEndian(input.AsSpan(20))}).");
        }
    }

    /// <summary>The decoded chunk has the header's shape, and each section decodes to the same values alone as in the whole.</summary>
    private static void CheckDecoded(ChunkRecord record, KvChunk chunk)
    {
        ChunkRecordHeader header = record.Header;
        KvLayout layout = header.Layout;
        Expect(chunk.Layout == layout && chunk.TokenCount == header.TokenCount && chunk.ElementsPerSection == header.TokenCount * layout.KvDim,
            "the decoded chunk has the header's layout and token count", header);
        var single = new float[chunk.ElementsPerSection];
        var whole = new float[chunk.ElementsPerSection];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            foreach (SectionKind kind in (ReadOnlySpan<SectionKind>)[SectionKind.Keys, SectionKind.Values])
            {
                Expect(chunk.Section(layer, kind).Length == chunk.ElementsPerSection * layout.ElementSize, $"layer {layer} {kind} has tokens × kv_dim elements", header);
                if (header.Codec == CodecId.Raw)
                    Expect(chunk.Section(layer, kind).SequenceEqual(record.GetPayload(layer, kind)), $"raw layer {layer} {kind} decodes to its payload", header);
                record.DecodeSection(layer, kind, single);
                chunk.GetSingle(layer, kind, whole);
                Expect(MemoryMarshal.AsBytes(single.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(whole.AsSpan())),
                    $"layer {layer} {kind}: DecodeSection and Decode agree bit for bit", header);
            }
        }
    }

    /// <summary>
    /// The decoded chunk, encoded again with the record's codec and level, parses and decodes; for raw it decodes to the same
    /// bytes, and a canonical raw record (what a v1 writer writes: versions 1 and 1, no flags, zero padding, payloads packed)
    /// is rebuilt byte for byte. A lossy
    /// record may decode to infinities (a finite scale times 127 can overflow, §8, §10), which lossy encoders refuse; those
    /// are not re-encoded.
    /// </summary>
    private static void CheckReencoded(byte[] input, ChunkRecord record, KvChunk chunk, long padding)
    {
        ChunkRecordHeader header = record.Header;
        bool raw = header.Codec == CodecId.Raw;
        if (!raw && !AllFinite(chunk))
            return;

        var metadata = new ChunkRecordMetadata(header.Fingerprint, header.Key, header.KeyKind, header.FirstPosition);
        byte[] again = ChunkRecordWriter.Encode(chunk, metadata, header.Codec, header.Level);
        ChunkRecord reparsed;
        KvChunk redecoded;
        try
        {
            reparsed = ChunkRecord.Parse(again, "re-encoded");
            redecoded = reparsed.Decode();
        }
        catch (ChunkRecordException e)
        {
            throw new InvalidOperationException($"The re-encoded record is rejected ({Describe(header)}): {e.Message}", e);
        }

        ChunkRecordHeader h = reparsed.Header;
        Expect(h.Codec == header.Codec && h.Level == header.Level && h.Fingerprint.Equals(header.Fingerprint) && h.KeyKind == header.KeyKind &&
            h.Key.Equals(header.Key) && h.TokenCount == header.TokenCount && h.FirstPosition == header.FirstPosition && reparsed.FirstNonZeroPadding() < 0,
            "the re-encoded record has the same header fields and zero padding", header);
        if (!raw)
            return;
        for (int layer = 0; layer < header.Layout.Layers; layer++)
        {
            Expect(redecoded.Section(layer, SectionKind.Keys).SequenceEqual(chunk.Section(layer, SectionKind.Keys)) &&
                redecoded.Section(layer, SectionKind.Values).SequenceEqual(chunk.Section(layer, SectionKind.Values)),
                $"raw layer {layer} decodes to the same bytes after re-encoding", header);
        }

        bool canonical = header.FormatVersion == ChunkRecordFormat.Version && header.MinReaderVersion == ChunkRecordFormat.MinimumWriteVersion &&
            header.Flags == 0 && padding < 0 && Packed(input, record);
        if (canonical)
            Expect(again.AsSpan().SequenceEqual(input), "a canonical raw record re-encodes to the same bytes", header);
    }

    private static bool Packed(byte[] input, ChunkRecord record)
    {
        long position = RealTableEnd(input, record.Header);
        foreach (SectionEntry e in record.Sections)
        {
            if (e.Offset != Pad(position, 64))
                return false;
            position = e.Offset + e.Length;
        }

        return true;
    }

    private static bool AllFinite(KvChunk chunk)
    {
        var values = new float[chunk.ElementsPerSection];
        for (int layer = 0; layer < chunk.Layout.Layers; layer++)
        {
            foreach (SectionKind kind in (ReadOnlySpan<SectionKind>)[SectionKind.Keys, SectionKind.Values])
            {
                chunk.GetSingle(layer, kind, values);
                foreach (float x in values)
                {
                    if (!float.IsFinite(x))
                        return false;
                }
            }
        }

        return true;
    }

    // The end of the table as written: header_size + section_count × section_entry_size (the entry size may exceed 32 when format_version > 1).
    private static long RealTableEnd(byte[] input, ChunkRecordHeader header) =>
        header.HeaderSize + (long)header.SectionCount * BinaryPrimitives.ReadUInt16LittleEndian(input.AsSpan(20));

    private static long FirstNonZero(byte[] input, long from, long to)
    {
        int index = input.AsSpan((int)from, (int)(to - from)).IndexOfAnyExcept((byte)0);
        return index < 0 ? -1 : from + index;
    }

    private static long Pad(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    private static void Expect(bool condition, string rule, ChunkRecordHeader header)
    {
        if (!condition)
            throw new InvalidOperationException($"An accepted record breaks \"{rule}\" ({Describe(header)}).");
    }

    private static string Describe(ChunkRecordHeader h) =>
        $"v{h.FormatVersion}, codec {h.Codec} level {h.Level}, {h.Layout.Layers} layers × {h.Layout.KvHeads} heads × {h.Layout.HeadDim}, " +
        $"{h.Layout.ElementType}, {h.TokenCount} tokens, record_length {h.RecordLength}";

    private static bool ProbeAns()
    {
        var layout = new KvLayout(1, 1, 2, KvElementType.Float32, RopeParameters.None, keysStoredAfterRope: false);
        var keys = new ChunkKeys("probe", layout);
        try
        {
            ChunkRecordWriter.Encode(new KvChunk(layout, 1), new ChunkRecordMetadata(keys.Fingerprint, keys.Root), CodecId.Ans, 1);
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }
}
