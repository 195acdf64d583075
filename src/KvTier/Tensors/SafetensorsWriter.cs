using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using KvTier.IO;

namespace KvTier.Tensors;

/// <summary>
/// Builds a safetensors file from named tensors and string metadata, then writes it to a stream or,
/// crash-safely, to a path. Output is deterministic: <c>"__metadata__"</c> first (when any was added,
/// keys in insertion order), then the tensors in insertion order, laid out back to back in the data
/// buffer; compact JSON whose only whitespace is the trailing padding that makes the data buffer start
/// at a multiple of 8. Everything this writer produces, <see cref="SafetensorsFile"/> reads.
/// </summary>
/// <remarks>
/// Tensor data is copied (as little-endian bytes) when added, so the caller's buffers may be reused at
/// once. Not thread-safe: one thread builds and writes a writer; a writer may be written many times.
/// </remarks>
public sealed class SafetensorsWriter
{
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);
    private readonly List<KeyValuePair<string, string>> _metadata = [];
    private readonly HashSet<string> _metadataKeys = new(StringComparer.Ordinal);
    private byte[] _data = [];
    private int _dataLength;

    /// <summary>Number of tensors added so far.</summary>
    public int TensorCount => _tensors.Count;

    /// <summary>Length of the data buffer so far, in bytes.</summary>
    public long DataLength => _dataLength;

    /// <summary>
    /// Test seam: wraps the temporary file's stream during <see cref="WriteTo(string)"/>, so a test can
    /// inject a failure part-way through and check that the target is untouched.
    /// </summary>
    internal Func<Stream, Stream>? TempFileStreamWrapper { get; set; }

    /// <summary>Adds an F32 tensor.</summary>
    /// <param name="name">Unique, non-empty tensor name; not <c>"__metadata__"</c>.</param>
    /// <param name="values">Elements in row-major order.</param>
    /// <param name="shape">Dimensions, outermost first; empty for a scalar. Their product must equal the number of values.</param>
    /// <exception cref="ArgumentException">The name is empty, reserved, duplicate or not valid UTF-16, or the shape does not fit the values.</exception>
    /// <exception cref="InvalidOperationException">The file would exceed <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    public void AddFloat32(string name, ReadOnlySpan<float> values, params ReadOnlySpan<long> shape) =>
        AddElements(name, SafetensorsDType.F32, values, shape);

    /// <summary>Adds an I32 tensor.</summary>
    /// <param name="name">Unique, non-empty tensor name; not <c>"__metadata__"</c>.</param>
    /// <param name="values">Elements in row-major order.</param>
    /// <param name="shape">Dimensions, outermost first; empty for a scalar. Their product must equal the number of values.</param>
    /// <exception cref="ArgumentException">The name is empty, reserved, duplicate or not valid UTF-16, or the shape does not fit the values.</exception>
    /// <exception cref="InvalidOperationException">The file would exceed <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    public void AddInt32(string name, ReadOnlySpan<int> values, params ReadOnlySpan<long> shape) =>
        AddElements(name, SafetensorsDType.I32, values, shape);

    /// <summary>Adds an I64 tensor.</summary>
    /// <param name="name">Unique, non-empty tensor name; not <c>"__metadata__"</c>.</param>
    /// <param name="values">Elements in row-major order.</param>
    /// <param name="shape">Dimensions, outermost first; empty for a scalar. Their product must equal the number of values.</param>
    /// <exception cref="ArgumentException">The name is empty, reserved, duplicate or not valid UTF-16, or the shape does not fit the values.</exception>
    /// <exception cref="InvalidOperationException">The file would exceed <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    public void AddInt64(string name, ReadOnlySpan<long> values, params ReadOnlySpan<long> shape) =>
        AddElements(name, SafetensorsDType.I64, values, shape);

    /// <summary>Adds an F16 tensor given as IEEE-754 binary16 bit patterns.</summary>
    /// <param name="name">Unique, non-empty tensor name; not <c>"__metadata__"</c>.</param>
    /// <param name="bits">Elements' bit patterns in row-major order.</param>
    /// <param name="shape">Dimensions, outermost first; empty for a scalar. Their product must equal the number of values.</param>
    /// <exception cref="ArgumentException">The name is empty, reserved, duplicate or not valid UTF-16, or the shape does not fit the values.</exception>
    /// <exception cref="InvalidOperationException">The file would exceed <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    public void AddFloat16Bits(string name, ReadOnlySpan<ushort> bits, params ReadOnlySpan<long> shape) =>
        AddElements(name, SafetensorsDType.F16, bits, shape);

    /// <summary>Adds a BF16 tensor given as bfloat16 bit patterns (the top 16 bits of each binary32).</summary>
    /// <param name="name">Unique, non-empty tensor name; not <c>"__metadata__"</c>.</param>
    /// <param name="bits">Elements' bit patterns in row-major order.</param>
    /// <param name="shape">Dimensions, outermost first; empty for a scalar. Their product must equal the number of values.</param>
    /// <exception cref="ArgumentException">The name is empty, reserved, duplicate or not valid UTF-16, or the shape does not fit the values.</exception>
    /// <exception cref="InvalidOperationException">The file would exceed <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    public void AddBFloat16Bits(string name, ReadOnlySpan<ushort> bits, params ReadOnlySpan<long> shape) =>
        AddElements(name, SafetensorsDType.BF16, bits, shape);

    /// <summary>Adds a tensor of any dtype from its raw little-endian bytes.</summary>
    /// <param name="name">Unique, non-empty tensor name; not <c>"__metadata__"</c>.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="littleEndianBytes">Elements in row-major order, each little-endian.</param>
    /// <param name="shape">Dimensions, outermost first; empty for a scalar. Their product times the element size must equal the byte count.</param>
    /// <exception cref="ArgumentException">The name is empty, reserved, duplicate or not valid UTF-16, or the shape does not fit the bytes.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined value.</exception>
    /// <exception cref="InvalidOperationException">The file would exceed <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    public void AddRaw(string name, SafetensorsDType dtype, ReadOnlySpan<byte> littleEndianBytes, params ReadOnlySpan<long> shape)
    {
        int elementSize = SafetensorsDTypes.GetElementSize(dtype);
        if (littleEndianBytes.Length % elementSize != 0)
            throw new ArgumentException($"{littleEndianBytes.Length} bytes are not a whole number of {SafetensorsDTypes.GetName(dtype)} elements.", nameof(littleEndianBytes));
        ValidateTensor(name, shape, littleEndianBytes.Length / elementSize);
        Span<byte> target = Reserve(littleEndianBytes.Length);
        littleEndianBytes.CopyTo(target);
        Commit(name, dtype, shape, littleEndianBytes.Length);
    }

    /// <summary>Adds a <c>"__metadata__"</c> entry.</summary>
    /// <param name="key">Unique key; any valid UTF-16 string.</param>
    /// <param name="value">Value; any valid UTF-16 string.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="value"/> is null.</exception>
    /// <exception cref="ArgumentException">The key was already added, or a string is not valid UTF-16 or longer than the header limit.</exception>
    public void AddMetadata(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ValidateText(key, nameof(key));
        ValidateText(value, nameof(value));
        if (!_metadataKeys.Add(key))
            throw new ArgumentException($"Metadata key '{key}' was already added.", nameof(key));
        _metadata.Add(new KeyValuePair<string, string>(key, value));
    }

    /// <summary>The complete file as a new array.</summary>
    /// <exception cref="InvalidOperationException">The header would exceed <see cref="SafetensorsFile.MaxHeaderSize"/> or the file <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    public byte[] ToArray()
    {
        byte[] header = BuildHeader();
        var file = new byte[SafetensorsFile.PrefixLength + header.Length + _dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file.AsSpan(SafetensorsFile.PrefixLength));
        _data.AsSpan(0, _dataLength).CopyTo(file.AsSpan(SafetensorsFile.PrefixLength + header.Length));
        return file;
    }

    /// <summary>Writes the complete file to <paramref name="destination"/> at its current position. The stream is not flushed or closed.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The header would exceed <see cref="SafetensorsFile.MaxHeaderSize"/> or the file <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    public void WriteTo(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        WriteCore(destination, BuildHeader());
    }

    /// <summary>
    /// Writes the complete file to <paramref name="path"/> crash-safely: the bytes go to a temporary file
    /// in the same directory, which is flushed to disk and then renamed over the target, so the target
    /// holds either its old content or the whole new file, never a mix; on Linux the directory is then
    /// flushed too, so the rename survives a power loss. On failure the temporary file is removed.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">The header would exceed <see cref="SafetensorsFile.MaxHeaderSize"/> or the file <see cref="SafetensorsFile.MaxFileLength"/>.</exception>
    /// <exception cref="IOException">Writing, flushing or renaming failed; the target is unchanged.</exception>
    /// <exception cref="UnauthorizedAccessException">Access to the directory or target is denied; the target is unchanged.</exception>
    public void WriteTo(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] header = BuildHeader(); // limits are checked before the disk is touched
        AtomicFile.Write(path, file =>
        {
            Stream target = TempFileStreamWrapper?.Invoke(file) ?? file;
            WriteCore(target, header);
            target.Flush();
        });
    }

    /// <summary>Reverses the bytes of every <paramref name="elementSize"/>-byte element: little-endian to host order and back on a big-endian machine.</summary>
    internal static void SwapElementBytes(Span<byte> bytes, int elementSize)
    {
        if (elementSize == 1)
            return;
        for (int i = 0; i + elementSize <= bytes.Length; i += elementSize)
            bytes.Slice(i, elementSize).Reverse();
    }

    private void AddElements<T>(string name, SafetensorsDType dtype, ReadOnlySpan<T> values, ReadOnlySpan<long> shape)
        where T : unmanaged
    {
        ValidateTensor(name, shape, values.Length);
        long byteCount = (long)values.Length * SafetensorsDTypes.GetElementSize(dtype);
        if (byteCount > SafetensorsFile.MaxFileLength)
            throw new InvalidOperationException($"A {byteCount}-byte tensor exceeds the reader limit of {SafetensorsFile.MaxFileLength} bytes per file.");
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(values);
        Span<byte> target = Reserve(bytes.Length);
        bytes.CopyTo(target);
        if (!BitConverter.IsLittleEndian)
            SwapElementBytes(target, SafetensorsDTypes.GetElementSize(dtype));
        Commit(name, dtype, shape, bytes.Length);
    }

    private void ValidateTensor(string name, ReadOnlySpan<long> shape, long elementCount)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
            throw new ArgumentException("Tensor name must not be empty.", nameof(name));
        if (name == SafetensorsHeaderReader.MetadataKey)
            throw new ArgumentException($"'{SafetensorsHeaderReader.MetadataKey}' is reserved for metadata and cannot name a tensor.", nameof(name));
        ValidateText(name, nameof(name));
        if (_tensorNames.Contains(name))
            throw new ArgumentException($"A tensor named '{name}' was already added.", nameof(name));
        if (shape.Length > SafetensorsFile.MaxRank)
            throw new ArgumentException($"Shape has {shape.Length} dimensions; at most {SafetensorsFile.MaxRank} are allowed.", nameof(shape));

        // The same running, overflow-checked product the reader computes: a shape the reader would
        // reject (for example [2^40, 2^40, 0]) is refused here rather than written.
        UInt128 product = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
                throw new ArgumentException($"Shape [{string.Join(", ", shape.ToArray())}] has a negative dimension.", nameof(shape));
            product *= (ulong)dim;
            if (product > ulong.MaxValue)
                throw new ArgumentException($"Element count of shape [{string.Join(", ", shape.ToArray())}] overflows.", nameof(shape));
        }
        if (product != (ulong)elementCount)
            throw new ArgumentException($"Shape [{string.Join(", ", shape.ToArray())}] does not hold the {elementCount} elements given.", nameof(shape));
    }

    private static void ValidateText(string text, string paramName)
    {
        if (!IsValidUtf16(text))
            throw new ArgumentException("String contains an unpaired surrogate and cannot be written as UTF-8.", paramName);
        if (text.Length > SafetensorsFile.MaxHeaderSize)
            throw new ArgumentException($"String is longer than the {SafetensorsFile.MaxHeaderSize}-byte header limit.", paramName);
    }

    private static bool IsValidUtf16(string text)
    {
        ReadOnlySpan<char> chars = text;
        int i = chars.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0)
            return true;
        for (; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
                i++;
            else if (char.IsSurrogate(chars[i]))
                return false;
        }
        return true;
    }

    /// <summary>Makes room for <paramref name="byteCount"/> more data bytes and returns them; <see cref="Commit"/> then records the tensor.</summary>
    private Span<byte> Reserve(int byteCount)
    {
        long needed = (long)_dataLength + byteCount;
        if (needed > SafetensorsFile.MaxFileLength - SafetensorsFile.PrefixLength)
            throw new InvalidOperationException($"Adding {byteCount} bytes would make the data buffer larger than the reader limit of {SafetensorsFile.MaxFileLength} bytes per file.");
        if (needed > _data.Length)
        {
            long capacity = Math.Max(needed, Math.Max(256, (long)_data.Length * 2));
            Array.Resize(ref _data, (int)Math.Min(capacity, Array.MaxLength));
        }
        return _data.AsSpan(_dataLength, byteCount);
    }

    private void Commit(string name, SafetensorsDType dtype, ReadOnlySpan<long> shape, int byteCount)
    {
        _tensors.Add(new PendingTensor(name, dtype, shape.ToArray(), _dataLength, _dataLength + byteCount));
        _tensorNames.Add(name);
        _dataLength += byteCount;
    }

    /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes.</summary>
    private byte[] BuildHeader()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        var options = new JsonWriterOptions
        {
            Indented = false,
            // Relaxed escaping keeps names readable (no \u002B for '+'); it is still valid JSON, and deterministic.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        using (var json = new Utf8JsonWriter(buffer, options))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject(SafetensorsHeaderReader.MetadataKey);
                foreach (KeyValuePair<string, string> entry in _metadata)
                    json.WriteString(entry.Key, entry.Value);
                json.WriteEndObject();
            }
            // Field order matches the reference writer: dtype, shape, data_offsets.
            foreach (PendingTensor t in _tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype"u8, SafetensorsDTypes.GetName(t.DType));
                json.WriteStartArray("shape"u8);
                foreach (long dim in t.Shape)
                    json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets"u8);
                json.WriteNumberValue(t.Begin);
                json.WriteNumberValue(t.End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }

        int padding = (8 - buffer.WrittenCount % 8) % 8;
        long headerLength = (long)buffer.WrittenCount + padding;
        if (headerLength > SafetensorsFile.MaxHeaderSize)
            throw new InvalidOperationException($"The header would be {headerLength} bytes, over the reader limit of {SafetensorsFile.MaxHeaderSize}.");
        if (SafetensorsFile.PrefixLength + headerLength + _dataLength > SafetensorsFile.MaxFileLength)
            throw new InvalidOperationException($"The file would be larger than the reader limit of {SafetensorsFile.MaxFileLength} bytes.");

        var header = new byte[headerLength];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private void WriteCore(Stream destination, byte[] header)
    {
        Span<byte> prefix = stackalloc byte[SafetensorsFile.PrefixLength];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        destination.Write(prefix);
        destination.Write(header);
        destination.Write(_data, 0, _dataLength);
    }

    private readonly record struct PendingTensor(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End);
}
