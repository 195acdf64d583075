using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace KvTier.Tensors;

/// <summary>
/// A parsed, fully validated safetensors file (Hugging Face's format): an 8-byte little-endian header
/// size N, N bytes of UTF-8 JSON header, then the data buffer that the header's tensors tile exactly.
/// </summary>
/// <remarks>
/// <para>
/// Reading is bounded and strict: the header size is checked against <see cref="MaxHeaderSize"/> and the
/// file length before anything is allocated; the header must be a JSON object without duplicate keys or
/// unknown tensor fields; each tensor's dtype, shape and offsets must agree (with overflow-checked
/// arithmetic); and the tensors must cover the data buffer without overlap, hole or trailing bytes, as
/// the reference implementation requires. Every failure is a <see cref="SafetensorsFormatException"/>
/// carrying the source name and the absolute byte offset of the problem.
/// </para>
/// <para>
/// The file keeps a reference to the bytes it was parsed from and returns spans over them without
/// copying. It is immutable: any number of threads may read it at once, provided nobody mutates the
/// memory given to <see cref="Parse(ReadOnlyMemory{byte}, string?)"/>.
/// </para>
/// </remarks>
public sealed class SafetensorsFile
{
    /// <summary>Length of the little-endian u64 header-size prefix.</summary>
    public const int PrefixLength = 8;

    /// <summary>
    /// Largest header accepted, in bytes: 100,000,000, the reference implementation's <c>MAX_HEADER_SIZE</c>
    /// (about 95.4 MiB). A header this large already describes millions of tensors.
    /// </summary>
    public const int MaxHeaderSize = 100_000_000;

    /// <summary>Most dimensions a tensor's shape may have (NumPy's limit is 64 as well).</summary>
    public const int MaxRank = 64;

    /// <summary>
    /// Largest file accepted, in bytes: <see cref="Array.MaxLength"/>, because the whole file is held in
    /// one array and tensors are returned as spans over it.
    /// </summary>
    public static int MaxFileLength => Array.MaxLength;

    private readonly ReadOnlyMemory<byte> _file;
    private readonly SafetensorsTensorInfo[] _tensors;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    private SafetensorsFile(ReadOnlyMemory<byte> file, string? sourceName, int headerLength, SafetensorsTensorInfo[] tensors, Dictionary<string, string> metadata)
    {
        _file = file;
        _tensors = tensors;
        SourceName = sourceName;
        HeaderLength = headerLength;
        Metadata = metadata;
        _byName = new Dictionary<string, SafetensorsTensorInfo>(tensors.Length, StringComparer.Ordinal);
        foreach (SafetensorsTensorInfo t in tensors)
            _byName.Add(t.Name, t);
    }

    /// <summary>The path or name given when the file was opened or parsed; null when none was given.</summary>
    public string? SourceName { get; }

    /// <summary>N, the length of the JSON header including its padding.</summary>
    public int HeaderLength { get; }

    /// <summary>Absolute offset of the data buffer in the file: <see cref="PrefixLength"/> + <see cref="HeaderLength"/>.</summary>
    public long DataStart => PrefixLength + HeaderLength;

    /// <summary>Length of the data buffer in bytes.</summary>
    public long DataLength => _file.Length - DataStart;

    /// <summary>The <c>"__metadata__"</c> map; empty when the header has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensors, in the order of their data in the file (which is insertion order for files from <see cref="SafetensorsWriter"/>).</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors => _tensors;

    /// <summary>Parses and validates a complete safetensors file held in memory. The result refers to <paramref name="file"/> without copying it.</summary>
    /// <param name="file">The whole file; must not be modified while the result is in use.</param>
    /// <param name="sourceName">Path or other name for error messages; may be null.</param>
    /// <exception cref="SafetensorsFormatException">The bytes are not a valid safetensors file or exceed a reader limit.</exception>
    public static SafetensorsFile Parse(ReadOnlyMemory<byte> file, string? sourceName = null)
    {
        ReadOnlySpan<byte> bytes = file.Span;
        if (bytes.Length < PrefixLength)
            throw new SafetensorsFormatException($"File is {bytes.Length} bytes, shorter than the {PrefixLength}-byte header-size prefix.", sourceName, 0);
        int headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(bytes), bytes.Length, sourceName);

        ReadOnlySpan<byte> header = bytes.Slice(PrefixLength, headerLength);
        long dataLength = bytes.Length - PrefixLength - headerLength;
        SafetensorsHeaderReader.Result result = SafetensorsHeaderReader.Read(header, dataLength, sourceName);
        return new SafetensorsFile(file, sourceName, headerLength, result.TensorsInDataOrder, result.Metadata);
    }

    /// <summary>Parses and validates a complete safetensors file held in an array. The result refers to <paramref name="file"/> without copying it.</summary>
    /// <param name="file">The whole file; must not be modified while the result is in use.</param>
    /// <param name="sourceName">Path or other name for error messages; may be null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="file"/> is null.</exception>
    /// <exception cref="SafetensorsFormatException">The bytes are not a valid safetensors file or exceed a reader limit.</exception>
    public static SafetensorsFile Parse(byte[] file, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Parse(new ReadOnlyMemory<byte>(file), sourceName);
    }

    /// <summary>Reads a whole safetensors file into memory and parses it. The header size is checked before the file is read.</summary>
    /// <param name="path">Path of the file.</param>
    /// <exception cref="SafetensorsFormatException">The file is not a valid safetensors file, exceeds a reader limit, or shrank while being read.</exception>
    /// <exception cref="IOException">The file cannot be opened or read.</exception>
    /// <exception cref="UnauthorizedAccessException">Access to the file is denied.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        long length = stream.Length;
        if (length > MaxFileLength)
            throw new SafetensorsFormatException($"File is {length} bytes, over the reader limit of {MaxFileLength}.", path, -1);

        // Bound the allocation by the header-size checks first: a corrupt prefix costs 8 bytes of reading, not the file.
        Span<byte> prefix = stackalloc byte[PrefixLength];
        if (length >= PrefixLength)
        {
            ReadFully(stream, prefix, path);
            CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(prefix), length, path);
            stream.Position = 0;
        }

        byte[] file = GC.AllocateUninitializedArray<byte>((int)length);
        ReadFully(stream, file, path);
        return Parse(file, path);
    }

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Looks up a tensor by name.</summary>
    /// <returns>False when there is no such tensor.</returns>
    public bool TryGetTensor(string name, [MaybeNullWhen(false)] out SafetensorsTensorInfo tensor) => _byName.TryGetValue(name, out tensor);

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    public SafetensorsTensorInfo GetTensor(string name) =>
        _byName.TryGetValue(name, out SafetensorsTensorInfo? tensor) ? tensor : throw NotFound(name);

    /// <summary>The raw little-endian bytes of a tensor, of any dtype, without copying.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    public ReadOnlySpan<byte> GetBytes(string name) => GetMemory(name).Span;

    /// <summary>The raw little-endian bytes of a tensor, of any dtype, without copying.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    public ReadOnlyMemory<byte> GetMemory(string name)
    {
        SafetensorsTensorInfo t = GetTensor(name);
        return _file.Slice((int)(DataStart + t.DataBegin), (int)t.ByteLength);
    }

    /// <summary>
    /// An F32 tensor's elements, without copying. The span may be misaligned (safetensors does not
    /// align tensors), which x64 and Arm64 load without penalty worth noting.
    /// </summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not F32.</exception>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian; use <see cref="CopyFloat32"/> instead.</exception>
    public ReadOnlySpan<float> GetFloat32(string name) => GetElements<float>(name, SafetensorsDType.F32);

    /// <summary>An I32 tensor's elements, without copying.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not I32.</exception>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian; use <see cref="CopyInt32"/> instead.</exception>
    public ReadOnlySpan<int> GetInt32(string name) => GetElements<int>(name, SafetensorsDType.I32);

    /// <summary>An I64 tensor's elements, without copying.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not I64.</exception>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian; use <see cref="CopyInt64"/> instead.</exception>
    public ReadOnlySpan<long> GetInt64(string name) => GetElements<long>(name, SafetensorsDType.I64);

    /// <summary>An F16 tensor's elements as their IEEE-754 binary16 bit patterns, without copying.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not F16.</exception>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian; use <see cref="CopyFloat16Bits"/> instead.</exception>
    public ReadOnlySpan<ushort> GetFloat16Bits(string name) => GetElements<ushort>(name, SafetensorsDType.F16);

    /// <summary>A BF16 tensor's elements as their bfloat16 bit patterns, without copying.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not BF16.</exception>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian; use <see cref="CopyBFloat16Bits"/> instead.</exception>
    public ReadOnlySpan<ushort> GetBFloat16Bits(string name) => GetElements<ushort>(name, SafetensorsDType.BF16);

    /// <summary>Copies an F32 tensor's elements into <paramref name="destination"/>, whose length must equal the element count. Works on any endianness.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not F32.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void CopyFloat32(string name, Span<float> destination) => CopyElements(name, SafetensorsDType.F32, destination);

    /// <summary>Copies an I32 tensor's elements into <paramref name="destination"/>, whose length must equal the element count. Works on any endianness.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not I32.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void CopyInt32(string name, Span<int> destination) => CopyElements(name, SafetensorsDType.I32, destination);

    /// <summary>Copies an I64 tensor's elements into <paramref name="destination"/>, whose length must equal the element count. Works on any endianness.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not I64.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void CopyInt64(string name, Span<long> destination) => CopyElements(name, SafetensorsDType.I64, destination);

    /// <summary>Copies an F16 tensor's bit patterns into <paramref name="destination"/>, whose length must equal the element count. Works on any endianness.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not F16.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void CopyFloat16Bits(string name, Span<ushort> destination) => CopyElements(name, SafetensorsDType.F16, destination);

    /// <summary>Copies a BF16 tensor's bit patterns into <paramref name="destination"/>, whose length must equal the element count. Works on any endianness.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not BF16.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void CopyBFloat16Bits(string name, Span<ushort> destination) => CopyElements(name, SafetensorsDType.BF16, destination);

    /// <summary>A new array holding an F32 tensor's elements. Works on any endianness.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not F32.</exception>
    public float[] ToFloat32Array(string name) => ToArray<float>(name, SafetensorsDType.F32);

    /// <summary>A new array holding an I32 tensor's elements. Works on any endianness.</summary>
    /// <exception cref="KeyNotFoundException">There is no such tensor.</exception>
    /// <exception cref="InvalidOperationException">The tensor's dtype is not I32.</exception>
    public int[] ToInt32Array(string name) => ToArray<int>(name, SafetensorsDType.I32);

    private ReadOnlySpan<T> GetElements<T>(string name, SafetensorsDType expected)
        where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = GetTypedBytes(name, expected);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Zero-copy typed views need a little-endian machine; use the Copy or ToArray accessors.");
        // SAFETY: the span views _file, which this object keeps alive and nobody may mutate (see Parse);
        // the byte length is a whole number of elements (validated), and unaligned loads are allowed.
        return MemoryMarshal.Cast<byte, T>(bytes);
    }

    private void CopyElements<T>(string name, SafetensorsDType expected, Span<T> destination)
        where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = GetTypedBytes(name, expected);
        Span<byte> target = MemoryMarshal.AsBytes(destination);
        if (target.Length != bytes.Length)
            throw new ArgumentException($"Tensor '{name}' has {bytes.Length / SafetensorsDTypes.GetElementSize(expected)} elements; the destination holds {destination.Length}.", nameof(destination));
        bytes.CopyTo(target);
        if (!BitConverter.IsLittleEndian)
            SafetensorsWriter.SwapElementBytes(target, SafetensorsDTypes.GetElementSize(expected));
    }

    private T[] ToArray<T>(string name, SafetensorsDType expected)
        where T : unmanaged
    {
        SafetensorsTensorInfo t = GetTensor(name);
        var result = new T[t.ElementCount];
        CopyElements<T>(name, expected, result);
        return result;
    }

    private ReadOnlySpan<byte> GetTypedBytes(string name, SafetensorsDType expected)
    {
        SafetensorsTensorInfo t = GetTensor(name);
        if (t.DType != expected)
            throw new InvalidOperationException($"Tensor '{name}' is {SafetensorsDTypes.GetName(t.DType)}, not {SafetensorsDTypes.GetName(expected)}.");
        return _file.Span.Slice((int)(DataStart + t.DataBegin), (int)t.ByteLength);
    }

    /// <summary>Checks the declared header size against the reader limit and the file, before anything is allocated for it.</summary>
    private static int CheckHeaderLength(ulong headerLength, long fileLength, string? source)
    {
        if (headerLength > MaxHeaderSize)
            throw new SafetensorsFormatException($"Header size {headerLength} exceeds the limit of {MaxHeaderSize} bytes.", source, 0);
        if (headerLength > (ulong)(fileLength - PrefixLength))
            throw new SafetensorsFormatException($"Header size {headerLength} exceeds the {fileLength - PrefixLength} bytes that follow the prefix.", source, 0);
        return (int)headerLength;
    }

    private static void ReadFully(FileStream stream, Span<byte> buffer, string path)
    {
        long start = stream.Position;
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException ex)
        {
            throw new SafetensorsFormatException("File ended early; it shrank while being read.", path, start, ex);
        }
    }

    private KeyNotFoundException NotFound(string name) =>
        new(SourceName is null ? $"No tensor named '{name}'." : $"{SourceName}: no tensor named '{name}'.");
}
