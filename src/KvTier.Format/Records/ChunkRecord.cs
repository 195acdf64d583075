using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using KvTier.Format.Codecs;
using KvTier.Format.Elements;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Format;

/// <summary>
/// A chunk record whose header and section table have been validated (format-spec/kvtier-format.md §5):
/// sections can then be read and decoded one at a time, each checked against its checksum first.
/// </summary>
/// <remarks>
/// Immutable over bytes it does not own: the caller keeps <see cref="Bytes"/> alive and unchanged. All methods
/// may run concurrently.
/// </remarks>
public sealed class ChunkRecord
{
    /// <summary>Default limit on a record's decoded size: 1 GiB as binary32 (a 256-token chunk of a 70B-class model is 320 MiB in fp32).</summary>
    public const long DefaultMaxDecodedBytes = 1L << 30;

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
    private readonly SectionEntry[] _sections;

    private ChunkRecord(ReadOnlyMemory<byte> bytes, ChunkRecordHeader header, SectionEntry[] sections, string? sourceName)
    {
        Bytes = bytes;
        Header = header;
        _sections = sections;
        SourceName = sourceName;
    }

    /// <summary>The record's bytes (exactly <see cref="ChunkRecordHeader.RecordLength"/> of them).</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The validated header.</summary>
    public ChunkRecordHeader Header { get; }

    /// <summary>The section table, in order: layer 0 K, layer 0 V, layer 1 K, …</summary>
    public IReadOnlyList<SectionEntry> Sections => _sections;

    /// <summary>Where the record came from, for errors; null when unknown.</summary>
    public string? SourceName { get; }

    /// <summary>
    /// Validates the header and section table of the record at the start of <paramref name="bytes"/>. Section
    /// payloads are checked only when read.
    /// </summary>
    /// <param name="bytes">The record.</param>
    /// <param name="sourceName">A file name or other source, for errors.</param>
    /// <param name="allowTrailingBytes">True when <paramref name="bytes"/> may continue past the record (a container); false when it must be exactly one record.</param>
    /// <param name="maxDecodedBytes">
    /// The most a caller lets this record decode to, as binary32 (2 × layers × tokens × KV width × 4 bytes); larger
    /// records fail with <see cref="ChunkRecordErrorKind.TooLarge"/> before anything is decoded. Entropy-coded payloads
    /// can be tiny for huge outputs, so this, not the input size, bounds the memory decoding takes.
    /// Default: <see cref="DefaultMaxDecodedBytes"/> (1 GiB).
    /// </param>
    /// <exception cref="ChunkRecordException">The record is not valid; <see cref="ChunkRecordException.Kind"/> says why.</exception>
    public static ChunkRecord Parse(ReadOnlyMemory<byte> bytes, string? sourceName = null, bool allowTrailingBytes = false, long maxDecodedBytes = DefaultMaxDecodedBytes)
    {
        ReadOnlySpan<byte> r = bytes.Span;
        if (r.Length < ChunkRecordFormat.FixedHeaderSize)
            throw Error(ChunkRecordErrorKind.Truncated, $"{r.Length} bytes are fewer than the {ChunkRecordFormat.FixedHeaderSize}-byte header.", sourceName, r.Length);
        if (!r[..8].SequenceEqual(ChunkRecordFormat.Magic))
            throw Error(ChunkRecordErrorKind.BadMagic, "not a KvTier chunk record (bad magic).", sourceName, 0);

        ushort formatVersion = BinaryPrimitives.ReadUInt16LittleEndian(r[8..]);
        ushort minReader = BinaryPrimitives.ReadUInt16LittleEndian(r[10..]);
        if (minReader > ChunkRecordFormat.Version)
            throw Error(ChunkRecordErrorKind.UnsupportedVersion, $"the record needs a version {minReader} reader; this is version {ChunkRecordFormat.Version}.", sourceName, 10);
        if (formatVersion == 0 || formatVersion < minReader)
            throw Error(ChunkRecordErrorKind.UnsupportedVersion, $"format version {formatVersion} with minimum reader version {minReader} is contradictory.", sourceName, 8);

        // Just enough of the header to find the end of the section table (§5).
        int modelIdLength = BinaryPrimitives.ReadUInt16LittleEndian(r[136..]);
        if (modelIdLength is < 1 or > ModelFingerprint.MaxModelIdBytes)
            throw Error(ChunkRecordErrorKind.BadHeader, $"model id length {modelIdLength} is outside [1, {ModelFingerprint.MaxModelIdBytes}].", sourceName, 136);
        uint layers = BinaryPrimitives.ReadUInt32LittleEndian(r[24..]);
        if (layers is < 1 or > KvLayout.MaxLayers)
            throw Error(ChunkRecordErrorKind.BadHeader, $"layers {layers} is outside [1, {KvLayout.MaxLayers}].", sourceName, 24);
        uint sectionCount = BinaryPrimitives.ReadUInt32LittleEndian(r[60..]);
        if (sectionCount != 2 * layers)
            throw Error(ChunkRecordErrorKind.BadHeader, $"section count {sectionCount} is not 2 × layers ({2 * layers}).", sourceName, 60);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(r[16..]);
        uint entrySize = BinaryPrimitives.ReadUInt16LittleEndian(r[20..]);
        long v1HeaderSize = ChunkRecordFormat.FixedHeaderSize + ChunkRecordFormat.Align(modelIdLength, 8);
        bool exact = formatVersion == 1;
        if (exact ? headerSize != v1HeaderSize : headerSize < v1HeaderSize || headerSize > 1 << 16)
            throw Error(ChunkRecordErrorKind.BadHeader, $"header size {headerSize} does not fit model id length {modelIdLength} (expected {v1HeaderSize}).", sourceName, 16);
        if (exact ? entrySize != ChunkRecordFormat.SectionEntrySize : entrySize < ChunkRecordFormat.SectionEntrySize || entrySize % 8 != 0)
            throw Error(ChunkRecordErrorKind.BadHeader, $"section entry size {entrySize} is not {ChunkRecordFormat.SectionEntrySize}.", sourceName, 20);
        long tableEnd = headerSize + sectionCount * (long)entrySize;
        if (r.Length < tableEnd)
            throw Error(ChunkRecordErrorKind.Truncated, $"the input ends at {r.Length}, before the section table ends at {tableEnd}.", sourceName, r.Length);

        ulong storedChecksum = BinaryPrimitives.ReadUInt64LittleEndian(r[ChunkRecordFormat.ChecksumOffset..]);
        if (storedChecksum != HeaderChecksum(r[..(int)tableEnd]))
            throw Error(ChunkRecordErrorKind.HeaderChecksum, "the header checksum does not match.", sourceName, ChunkRecordFormat.ChecksumOffset);

        ChunkRecordHeader header = ReadHeaderFields(r, formatVersion, minReader, (int)headerSize, (int)entrySize, modelIdLength, sourceName);
        if (header.DecodedSingleBytes > maxDecodedBytes)
            throw Error(ChunkRecordErrorKind.TooLarge, $"the record decodes to {header.DecodedSingleBytes} bytes, over this reader's limit of {maxDecodedBytes}.", sourceName, 52);
        SectionEntry[] sections = ReadSectionTable(r, header, (int)entrySize, sourceName);

        if (r.Length < header.RecordLength)
            throw Error(ChunkRecordErrorKind.Truncated, $"the input ends at {r.Length}, before the record ends at {header.RecordLength}.", sourceName, r.Length);
        if (!allowTrailingBytes && r.Length > header.RecordLength)
            throw Error(ChunkRecordErrorKind.BadHeader, $"{r.Length - header.RecordLength} bytes follow the record's declared end at {header.RecordLength}.", sourceName, 128);
        return new ChunkRecord(bytes[..(int)header.RecordLength], header, sections, sourceName);
    }

    /// <summary>One section's payload, after checking its checksum.</summary>
    /// <exception cref="ChunkRecordException"><see cref="ChunkRecordErrorKind.SectionChecksum"/> when the payload is corrupt.</exception>
    public ReadOnlySpan<byte> GetPayload(int layer, SectionKind kind)
    {
        SectionEntry entry = Entry(layer, kind);
        ReadOnlySpan<byte> payload = Bytes.Span.Slice((int)entry.Offset, (int)entry.Length);
        if (XxHash3.HashToUInt64(payload) != entry.Checksum)
            throw Error(ChunkRecordErrorKind.SectionChecksum, $"layer {layer} {(kind == SectionKind.Keys ? "K" : "V")} payload checksum does not match.", SourceName, entry.Offset);
        return payload;
    }

    /// <summary>
    /// Decodes one section to binary32 values: exactly the values of the record's element type (format-spec §10),
    /// widened. <paramref name="destination"/> receives tokens × KV width values, row-major.
    /// </summary>
    /// <exception cref="ChunkRecordException">The payload is corrupt or malformed.</exception>
    public void DecodeSection(int layer, SectionKind kind, Span<float> destination) => DecodePayload(layer, kind, GetPayload(layer, kind), destination);

    /// <summary>
    /// Decodes a copy of one section's payload that the caller has already checked (with <see cref="GetPayload"/> or a
    /// lease's section read) and staged elsewhere, such as in pinned memory: the same result as <see cref="DecodeSection"/>
    /// without a second checksum pass. The payload must be exactly the section's bytes.
    /// </summary>
    /// <exception cref="ChunkRecordException">The payload is malformed (its length or content disagrees with the section).</exception>
    public void DecodePayload(int layer, SectionKind kind, ReadOnlySpan<byte> payload, Span<float> destination)
    {
        CheckDestination(destination.Length);
        SectionEntry entry = Entry(layer, kind);
        if (payload.Length != entry.Length)
            throw new ArgumentException($"The payload is {payload.Length} bytes; layer {layer} {(kind == SectionKind.Keys ? "K" : "V")} is {entry.Length}.", nameof(payload));
        KvLayout layout = Header.Layout;
        if (Header.Codec == CodecId.Raw)
        {
            CheckRawLength(layer, kind, payload.Length);
            ElementConversion.ToSingle(layout.ElementType, payload, destination);
            return;
        }

        ChunkCodecs.Lossy(Header.Codec).Decode(Context(layer, kind), payload, destination);
        ElementConversion.RoundTo(layout.ElementType, destination);
    }

    /// <summary>Decodes one section to little-endian elements of the record's element type (what conformance hashes).</summary>
    /// <exception cref="ChunkRecordException">The payload is corrupt or malformed.</exception>
    public void DecodeSectionElements(int layer, SectionKind kind, Span<byte> destination)
    {
        KvLayout layout = Header.Layout;
        int elements = Header.TokenCount * layout.KvDim;
        if (destination.Length != elements * layout.ElementSize)
            throw new ArgumentException($"Destination holds {destination.Length} bytes; the section decodes to {elements * layout.ElementSize}.", nameof(destination));
        if (Header.Codec == CodecId.Raw)
        {
            ReadOnlySpan<byte> payload = GetPayload(layer, kind);
            CheckRawLength(layer, kind, payload.Length);
            payload.CopyTo(destination);
            return;
        }

        var values = new float[elements];
        DecodeSection(layer, kind, values);
        ElementConversion.FromSingle(layout.ElementType, values, destination);
    }

    /// <summary>Decodes every section into a new chunk; any corrupt section fails the whole call.</summary>
    /// <exception cref="ChunkRecordException">A payload is corrupt or malformed.</exception>
    public KvChunk Decode()
    {
        var chunk = new KvChunk(Header.Layout, Header.TokenCount);
        float[]? values = Header.Codec == CodecId.Raw ? null : new float[chunk.ElementsPerSection];
        foreach (SectionEntry entry in _sections)
        {
            Span<byte> destination = chunk.Section(entry.Layer, entry.Kind);
            if (values is null)
            {
                DecodeSectionElements(entry.Layer, entry.Kind, destination);
                continue;
            }

            DecodeSection(entry.Layer, entry.Kind, values);
            ElementConversion.FromSingle(Header.Layout.ElementType, values, destination);
        }

        return chunk;
    }

    /// <summary>Offset of the first non-zero padding byte (after the model id, after the table, between payloads), or -1 when all padding is zero.</summary>
    public long FirstNonZeroPadding()
    {
        ReadOnlySpan<byte> r = Bytes.Span;
        int modelIdLength = BinaryPrimitives.ReadUInt16LittleEndian(r[136..]);
        long modelIdEnd = ChunkRecordFormat.FixedHeaderSize + modelIdLength;
        long check = FirstNonZero(r, modelIdEnd, ChunkRecordFormat.FixedHeaderSize + ChunkRecordFormat.Align(modelIdLength, 8));
        if (check >= 0)
            return check;
        long previousEnd = Header.TableEnd;
        foreach (SectionEntry entry in _sections)
        {
            check = FirstNonZero(r, previousEnd, entry.Offset);
            if (check >= 0)
                return check;
            previousEnd = entry.Offset + entry.Length;
        }

        return -1;
    }

    private static long FirstNonZero(ReadOnlySpan<byte> r, long from, long to)
    {
        int index = r[(int)from..(int)to].IndexOfAnyExcept((byte)0);
        return index < 0 ? -1 : from + index;
    }

    private SectionEntry Entry(int layer, SectionKind kind)
    {
        if ((uint)layer >= (uint)Header.Layout.Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {Header.Layout.Layers}).");
        if (kind is not (SectionKind.Keys or SectionKind.Values))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown section kind.");
        return _sections[2 * layer + (int)kind];
    }

    private SectionContext Context(int layer, SectionKind kind) =>
        new(Header.Layout, Header.TokenCount, layer, kind, SourceName, Entry(layer, kind).Offset);

    private void CheckRawLength(int layer, SectionKind kind, int length)
    {
        long expected = (long)Header.TokenCount * Header.Layout.KvDim * Header.Layout.ElementSize;
        if (length != expected)
            throw Context(layer, kind).BadPayload($"raw payload is {length} bytes; the layout needs {expected}.");
    }

    private void CheckDestination(int length)
    {
        int elements = Header.TokenCount * Header.Layout.KvDim;
        if (length != elements)
            throw new ArgumentException($"Destination holds {length} values; the section has {elements}.", "destination");
    }

    private static ulong HeaderChecksum(ReadOnlySpan<byte> table)
    {
        var hash = new XxHash3();
        hash.Append(table[..ChunkRecordFormat.ChecksumOffset]);
        hash.Append(stackalloc byte[8]);
        hash.Append(table[(ChunkRecordFormat.ChecksumOffset + 8)..]);
        return hash.GetCurrentHashAsUInt64();
    }

    private static ChunkRecordHeader ReadHeaderFields(ReadOnlySpan<byte> r, ushort formatVersion, ushort minReader, int headerSize, int entrySize, int modelIdLength, string? source)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(r[12..]);
        if ((flags & ChunkRecordFormat.ReservedFlagMask) != 0)
            throw Error(ChunkRecordErrorKind.ReservedBits, $"reserved flag bits are set (flags 0x{flags:X8}).", source, 12);
        if (r[138..152].IndexOfAnyExcept((byte)0) is int nonZero and >= 0)
            throw Error(ChunkRecordErrorKind.ReservedBits, "a reserved header byte is not zero.", source, 138 + nonZero);

        var codec = (CodecId)r[22];
        int level = r[23];
        if (!ChunkCodecs.TryGet(codec, out CodecInfo? info))
            throw Error(ChunkRecordErrorKind.UnknownCodec, $"codec id {r[22]} is not defined by format version 1.", source, 22);
        if (!info.HasLevel(level))
            throw Error(ChunkRecordErrorKind.UnknownCodec, $"codec {info.Name} has no level {level} (levels {info.MinLevel} to {info.MaxLevel}).", source, 23);

        KvLayout layout;
        try
        {
            byte keysAfterRope = r[38];
            if (keysAfterRope > 1)
                throw new ArgumentOutOfRangeException("keys_after_rope", keysAfterRope, "keys_after_rope must be 0 or 1.");
            layout = new KvLayout(
                CheckedInt(r[24..], "layers"),
                CheckedInt(r[28..], "kv_heads"),
                CheckedInt(r[32..], "head_dim"),
                (KvElementType)r[36],
                new RopeParameters(BinaryPrimitives.ReadDoubleLittleEndian(r[40..]), CheckedInt(r[48..], "rotary_dims"), (RopePairing)r[37]),
                keysAfterRope == 1);
        }
        catch (ArgumentException e)
        {
            throw Error(ChunkRecordErrorKind.BadHeader, $"invalid layout: {e.Message.ReplaceLineEndings(" ")}", source, 24);
        }

        var keyKind = (ChunkKeyKind)r[39];
        if (keyKind is not (ChunkKeyKind.Prefix or ChunkKeyKind.Segment))
            throw Error(ChunkRecordErrorKind.BadHeader, $"key kind {r[39]} is neither 1 (prefix) nor 2 (segment).", source, 39);
        uint tokenCount = BinaryPrimitives.ReadUInt32LittleEndian(r[52..]);
        if (tokenCount is < 1 or > ChunkRecordFormat.MaxTokenCount || tokenCount * (long)layout.KvDim > ChunkRecordFormat.MaxSectionElements)
            throw Error(ChunkRecordErrorKind.BadHeader, $"token count {tokenCount} is outside [1, {ChunkRecordFormat.MaxTokenCount}] or makes sections over {ChunkRecordFormat.MaxSectionElements} elements.", source, 52);
        uint firstPosition = BinaryPrimitives.ReadUInt32LittleEndian(r[56..]);
        if (firstPosition + (long)tokenCount > ChunkRecordFormat.MaxPositionEnd)
            throw Error(ChunkRecordErrorKind.BadHeader, $"first position {firstPosition} + {tokenCount} tokens exceeds 2^31.", source, 56);

        string modelId;
        try
        {
            modelId = StrictUtf8.GetString(r.Slice(ChunkRecordFormat.FixedHeaderSize, modelIdLength));
        }
        catch (DecoderFallbackException)
        {
            throw Error(ChunkRecordErrorKind.BadHeader, "the model id is not valid UTF-8.", source, ChunkRecordFormat.FixedHeaderSize);
        }

        var fingerprint = ModelFingerprint.Compute(modelId, layout);
        if (!fingerprint.Digest.SequenceEqual(r.Slice(96, ModelFingerprint.Size)))
            throw Error(ChunkRecordErrorKind.BadHeader, $"the fingerprint does not match model id \"{modelId}\" and the layout.", source, 96);

        ulong recordLength = BinaryPrimitives.ReadUInt64LittleEndian(r[128..]);
        long tableEnd = headerSize + 2L * layout.Layers * entrySize;
        if (recordLength > ChunkRecordFormat.MaxRecordLength || (long)recordLength < ChunkRecordFormat.Align(tableEnd, ChunkRecordFormat.PayloadAlignment))
            throw Error(ChunkRecordErrorKind.BadHeader, $"record length {recordLength} is outside [{ChunkRecordFormat.Align(tableEnd, ChunkRecordFormat.PayloadAlignment)}, 2^40].", source, 128);

        return new ChunkRecordHeader(formatVersion, minReader, flags, codec, level, fingerprint, keyKind, ChunkKey.FromBytes(r.Slice(64, ChunkKey.Size)),
            (int)tokenCount, (int)firstPosition, headerSize, entrySize, (long)recordLength);
    }

    private static SectionEntry[] ReadSectionTable(ReadOnlySpan<byte> r, ChunkRecordHeader header, int entrySize, string? source)
    {
        var sections = new SectionEntry[header.SectionCount];
        long previousEnd = ChunkRecordFormat.Align(header.TableEnd, ChunkRecordFormat.PayloadAlignment);
        (long minLength, long maxLength) = PayloadBounds(header);
        for (int j = 0; j < sections.Length; j++)
        {
            int at = header.HeaderSize + j * entrySize;
            ReadOnlySpan<byte> e = r.Slice(at, ChunkRecordFormat.SectionEntrySize);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(e);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
            int layer = BinaryPrimitives.ReadUInt16LittleEndian(e[24..]);
            int kind = e[26];
            if (e[27..32].IndexOfAnyExcept((byte)0) is int nonZero and >= 0)
                throw Error(ChunkRecordErrorKind.ReservedBits, $"section {j}: a reserved byte is not zero.", source, at + 27 + nonZero);
            if (layer != j / 2 || kind != j % 2)
                throw Error(ChunkRecordErrorKind.BadSectionTable, $"section {j} is labelled layer {layer} kind {kind}; expected layer {j / 2} kind {j % 2}.", source, at + 24);
            if (offset % ChunkRecordFormat.PayloadAlignment != 0 || offset < (ulong)previousEnd || offset > (ulong)header.RecordLength)
                throw Error(ChunkRecordErrorKind.BadSectionTable, $"section {j} offset {offset} is misaligned, overlaps what precedes it, or lies past the record.", source, at);
            if (length < 1 || length > (ulong)ChunkRecordFormat.MaxSectionLength || offset + length > (ulong)header.RecordLength)
                throw Error(ChunkRecordErrorKind.BadSectionTable, $"section {j} length {length} is outside [1, 2^31 - 1] or runs past the record end {header.RecordLength}.", source, at + 8);
            if (length < (ulong)minLength || length > (ulong)maxLength)
            {
                // Raw and q8 payloads have exact lengths (§7, §8): checked here so that nothing is allocated for a record that cannot decode.
                throw Error(ChunkRecordErrorKind.BadPayload, $"section {j} is {length} bytes; codec {ChunkCodecs.Get(header.Codec).Name} needs {(minLength == maxLength ? $"exactly {minLength}" : $"{minLength} to {maxLength}")} for this layout.", source, at + 8);
            }

            sections[j] = new SectionEntry(layer, (SectionKind)kind, (long)offset, (long)length, BinaryPrimitives.ReadUInt64LittleEndian(e[16..]));
            previousEnd = (long)(offset + length);
        }

        if (previousEnd != header.RecordLength)
            throw Error(ChunkRecordErrorKind.BadSectionTable, $"the last section ends at {previousEnd}, not at the record end {header.RecordLength}.", source, header.HeaderSize + (sections.Length - 1) * entrySize);
        return sections;
    }

    /// <summary>The shortest and longest payload a section of this record's codec and shape can have.</summary>
    private static (long Min, long Max) PayloadBounds(ChunkRecordHeader header)
    {
        if (header.Codec == CodecId.Raw)
        {
            long exact = (long)header.TokenCount * header.Layout.KvDim * header.Layout.ElementSize;
            return (exact, exact);
        }

        ILossyCodec codec = ChunkCodecs.Lossy(header.Codec);
        var context = new SectionContext(header.Layout, header.TokenCount, 0, SectionKind.Keys);
        return (codec.MinPayloadLength(context), codec.MaxPayloadLength(context));
    }

    private static int CheckedInt(ReadOnlySpan<byte> field, string name)
    {
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(field);
        return value <= int.MaxValue ? (int)value : throw new ArgumentOutOfRangeException(name, value, $"{name} {value} is out of range.");
    }

    private static ChunkRecordException Error(ChunkRecordErrorKind kind, string message, string? source, long offset) => new(kind, message, source, offset);
}
