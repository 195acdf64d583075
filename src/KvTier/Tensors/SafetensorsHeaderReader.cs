using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Unicode;

namespace KvTier.Tensors;

/// <summary>
/// Parses and validates the JSON header of a safetensors file with a forward-only <see cref="Utf8JsonReader"/>:
/// no document tree, every token type checked before it is used, and every failure reported as a
/// <see cref="SafetensorsFormatException"/> with the absolute file offset of the offending token.
/// </summary>
/// <remarks>Stateless; safe to call from any number of threads.</remarks>
internal static class SafetensorsHeaderReader
{
    /// <summary>The reserved key whose value is the string-to-string metadata map.</summary>
    internal const string MetadataKey = "__metadata__";

    // The header nests at most three deep ({ name: { "shape": [ ... ] } }); a little slack keeps the
    // reader's own depth error from pre-empting our clearer token-type messages.
    private const int MaxJsonDepth = 8;

    internal readonly record struct Result(SafetensorsTensorInfo[] TensorsInDataOrder, Dictionary<string, string> Metadata);

    private readonly record struct Entry(string Name, string DTypeName, long[] Shape, ulong Begin, ulong End, long FileOffset);

    /// <summary>Parses <paramref name="header"/> (the N bytes after the size prefix) and validates it against a data buffer of <paramref name="dataLength"/> bytes.</summary>
    internal static Result Read(ReadOnlySpan<byte> header, long dataLength, string? source)
    {
        if (!Utf8.IsValid(header))
            throw new SafetensorsFormatException("Header is not valid UTF-8.", source, SafetensorsFile.PrefixLength + FindInvalidUtf8(header));
        if (header.IsEmpty || header[0] != (byte)'{')
            throw new SafetensorsFormatException("Header does not start with '{'.", source, SafetensorsFile.PrefixLength);

        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(header, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Disallow,
            AllowTrailingCommas = false,
            MaxDepth = MaxJsonDepth,
        });
        try
        {
            ReadHeaderObject(ref reader, entries, metadata, source);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // JsonException: malformed JSON; InvalidOperationException: a string escape that is not valid UTF-16.
            // The reader's own position is exact on a one-line header (the usual case); otherwise fall back
            // to the end of the last complete token.
            long offset = ex is JsonException { LineNumber: 0, BytePositionInLine: long position }
                ? position
                : reader.BytesConsumed;
            throw new SafetensorsFormatException($"Header is not valid JSON: {ex.Message}", source,
                SafetensorsFile.PrefixLength + offset, ex);
        }

        return new Result(Validate(entries, SafetensorsFile.PrefixLength + header.Length, dataLength, source), metadata);
    }

    private static void ReadHeaderObject(ref Utf8JsonReader reader, List<Entry> entries, Dictionary<string, string> metadata, string? source)
    {
        reader.Read();
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            long keyOffset = FileOffset(in reader);
            string name = reader.GetString()!;
            if (!names.Add(name))
                throw new SafetensorsFormatException($"Duplicate header key '{name}'.", source, keyOffset);
            reader.Read();
            if (name == MetadataKey)
                ReadMetadata(ref reader, metadata, source);
            else
                entries.Add(ReadEntry(ref reader, name, keyOffset, source));
        }

        // Only whitespace (the writer's padding) may follow; anything else makes Read throw.
        if (reader.Read())
            throw new SafetensorsFormatException("Unexpected content after the header object.", source, FileOffset(in reader));
    }

    /// <summary>Reads the next token of an object: a property name or the object's end.</summary>
    private static JsonTokenType Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
            throw new JsonException("Header ends inside an object.");
        return reader.TokenType;
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string? source)
    {
        // The reference implementation reads "__metadata__" as an optional map, so null means "none".
        if (reader.TokenType == JsonTokenType.Null)
            return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException($"'{MetadataKey}' is {reader.TokenType}, not an object.", source, FileOffset(in reader));
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            long keyOffset = FileOffset(in reader);
            string key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new SafetensorsFormatException($"Metadata value for '{key}' is {reader.TokenType}, not a string.", source, FileOffset(in reader));
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new SafetensorsFormatException($"Duplicate metadata key '{key}'.", source, keyOffset);
        }
    }

    private static Entry ReadEntry(ref Utf8JsonReader reader, string name, long keyOffset, string? source)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException($"Entry for tensor '{name}' is {reader.TokenType}, not an object.", source, FileOffset(in reader));

        string? dtype = null;
        long[]? shape = null;
        ulong begin = 0, end = 0;
        bool haveOffsets = false;
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            long fieldOffset = FileOffset(in reader);
            if (reader.ValueTextEquals("dtype"u8))
            {
                if (dtype is not null)
                    throw DuplicateField(name, "dtype", source, fieldOffset);
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                    throw new SafetensorsFormatException($"Tensor '{name}': dtype is {reader.TokenType}, not a string.", source, FileOffset(in reader));
                dtype = reader.GetString()!;
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                if (shape is not null)
                    throw DuplicateField(name, "shape", source, fieldOffset);
                shape = ReadShape(ref reader, name, source);
            }
            else if (reader.ValueTextEquals("data_offsets"u8))
            {
                if (haveOffsets)
                    throw DuplicateField(name, "data_offsets", source, fieldOffset);
                (begin, end) = ReadOffsets(ref reader, name, source);
                haveOffsets = true;
            }
            else
            {
                throw new SafetensorsFormatException($"Tensor '{name}': unknown field '{reader.GetString()}'.", source, fieldOffset);
            }
        }

        if (dtype is null || shape is null || !haveOffsets)
        {
            string missing = dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets";
            throw new SafetensorsFormatException($"Tensor '{name}': missing field '{missing}'.", source, keyOffset);
        }
        return new Entry(name, dtype, shape, begin, end, keyOffset);
    }

    private static long[] ReadShape(ref Utf8JsonReader reader, string name, string? source)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new SafetensorsFormatException($"Tensor '{name}': shape is {reader.TokenType}, not an array.", source, FileOffset(in reader));
        var dims = new List<long>();
        while (true)
        {
            if (!reader.Read())
                throw new JsonException("Header ends inside an array.");
            if (reader.TokenType == JsonTokenType.EndArray)
                return dims.ToArray();
            if (dims.Count == SafetensorsFile.MaxRank)
                throw new SafetensorsFormatException($"Tensor '{name}': shape has more than {SafetensorsFile.MaxRank} dimensions.", source, FileOffset(in reader));
            ulong dim = ReadUnsigned(ref reader, name, "shape dimension", source);
            if (dim > long.MaxValue)
                throw new SafetensorsFormatException($"Tensor '{name}': shape dimension {dim} is too large.", source, FileOffset(in reader));
            dims.Add((long)dim);
        }
    }

    private static (ulong Begin, ulong End) ReadOffsets(ref Utf8JsonReader reader, string name, string? source)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new SafetensorsFormatException($"Tensor '{name}': data_offsets is {reader.TokenType}, not an array.", source, FileOffset(in reader));
        Span<ulong> values = stackalloc ulong[2];
        for (int i = 0; i < 2; i++)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.EndArray)
                throw new SafetensorsFormatException($"Tensor '{name}': data_offsets has {i} values, not 2.", source, FileOffset(in reader));
            values[i] = ReadUnsigned(ref reader, name, "data offset", source);
        }
        reader.Read();
        if (reader.TokenType != JsonTokenType.EndArray)
            throw new SafetensorsFormatException($"Tensor '{name}': data_offsets has more than 2 values.", source, FileOffset(in reader));
        return (values[0], values[1]);
    }

    private static ulong ReadUnsigned(ref Utf8JsonReader reader, string name, string what, string? source)
    {
        // TryGetUInt64 refuses fractions, exponents, signs and values over 2^64-1: all invalid for a usize.
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong value))
            throw new SafetensorsFormatException($"Tensor '{name}': {what} is not a non-negative integer.", source, FileOffset(in reader));
        return value;
    }

    /// <summary>
    /// Checks each entry against its dtype and the data buffer, then checks that the entries, in
    /// offset order, tile the buffer exactly: no overlap, no hole, nothing left over.
    /// </summary>
    private static SafetensorsTensorInfo[] Validate(List<Entry> entries, long dataStart, long dataLength, string? source)
    {
        var tensors = new SafetensorsTensorInfo[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            Entry e = entries[i];
            if (!SafetensorsDTypes.TryParse(e.DTypeName, out SafetensorsDType dtype))
                throw new SafetensorsFormatException($"Tensor '{e.Name}': unknown or unsupported dtype '{e.DTypeName}'.", source, e.FileOffset);

            ulong elements = 1;
            foreach (long dim in e.Shape)
            {
                if (!TryMultiply(elements, (ulong)dim, out elements))
                    throw new SafetensorsFormatException($"Tensor '{e.Name}': element count of shape [{string.Join(", ", e.Shape)}] overflows.", source, e.FileOffset);
            }
            if (!TryMultiply(elements, (ulong)SafetensorsDTypes.GetElementSize(dtype), out ulong byteLength))
                throw new SafetensorsFormatException($"Tensor '{e.Name}': byte size of shape [{string.Join(", ", e.Shape)}] overflows.", source, e.FileOffset);
            if (e.Begin > e.End)
                throw new SafetensorsFormatException($"Tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] end before they begin.", source, e.FileOffset);
            if (e.End > (ulong)dataLength)
                throw new SafetensorsFormatException($"Tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] exceed the {dataLength}-byte data buffer.", source, e.FileOffset);
            if (e.End - e.Begin != byteLength)
                throw new SafetensorsFormatException(
                    $"Tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] span {e.End - e.Begin} bytes but {SafetensorsDTypes.GetName(dtype)} shape [{string.Join(", ", e.Shape)}] needs {byteLength}.",
                    source, e.FileOffset);

            // End <= dataLength <= int.MaxValue, so every count below fits a long.
            tensors[i] = new SafetensorsTensorInfo(e.Name, dtype, ImmutableArray.Create(e.Shape), (long)elements, (long)e.Begin, (long)e.End);
        }

        // Stable order by (begin, end): the header order breaks ties between empty tensors.
        var order = new int[tensors.Length];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            int c = tensors[a].DataBegin.CompareTo(tensors[b].DataBegin);
            if (c == 0)
                c = tensors[a].DataEnd.CompareTo(tensors[b].DataEnd);
            return c != 0 ? c : a.CompareTo(b);
        });

        var sorted = new SafetensorsTensorInfo[tensors.Length];
        long expected = 0;
        for (int i = 0; i < order.Length; i++)
        {
            SafetensorsTensorInfo t = tensors[order[i]];
            if (t.DataBegin < expected)
                throw new SafetensorsFormatException($"Tensor '{t.Name}' at [{t.DataBegin}, {t.DataEnd}) overlaps the tensor before it, which ends at {expected}.", source, dataStart + t.DataBegin);
            if (t.DataBegin > expected)
                throw new SafetensorsFormatException($"Data bytes [{expected}, {t.DataBegin}) before tensor '{t.Name}' belong to no tensor.", source, dataStart + expected);
            expected = t.DataEnd;
            sorted[i] = t;
        }
        if (expected != dataLength)
            throw new SafetensorsFormatException($"Data bytes [{expected}, {dataLength}) at the end of the file belong to no tensor.", source, dataStart + expected);
        return sorted;
    }

    private static bool TryMultiply(ulong a, ulong b, out ulong product)
    {
        UInt128 wide = (UInt128)a * b;
        product = (ulong)wide;
        return wide <= ulong.MaxValue;
    }

    private static long FileOffset(in Utf8JsonReader reader) => SafetensorsFile.PrefixLength + reader.TokenStartIndex;

    private static SafetensorsFormatException DuplicateField(string name, string field, string? source, long offset) =>
        new($"Tensor '{name}': duplicate field '{field}'.", source, offset);

    /// <summary>Slow path, only after validation failed: the offset of the first byte that is not valid UTF-8.</summary>
    private static long FindInvalidUtf8(ReadOnlySpan<byte> text)
    {
        int offset = 0;
        while (offset < text.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(text[offset..], out _, out int consumed) != System.Buffers.OperationStatus.Done)
                return offset;
            offset += consumed;
        }
        return offset;
    }
}
