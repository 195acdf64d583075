using ILGPU;
using ILGPU.Runtime;
using KvTier.Format;
using KvTier.Prefetch.Decoding;

namespace KvTier.Prefetch;

/// <summary>
/// Where a request's decoded KV goes: a caller-supplied binary32 buffer laid out <c>[layer][K, V][token][kvDim]</c>,
/// with <see cref="TokenCapacity"/> token rows per layer and kind. Chunk <c>i</c> of a request lands in token rows
/// <c>[i · ChunkTokens, i · ChunkTokens + its token count)</c>, so one chunk's section is one contiguous block. The buffer
/// is host memory (<see cref="Buffer"/>), or a device buffer of an ILGPU accelerator (<see cref="OnDevice"/>), which the
/// prefetcher fills only through an <see cref="AcceleratorSectionDecoder"/> on that same accelerator.
/// </summary>
/// <remarks>
/// The prefetcher writes each block once, from one decode worker; the caller reads a layer only after its
/// <see cref="PrefetchRequest.WaitForLayerAsync"/> completed (which orders the writes before the read). The buffer must
/// stay valid until the request is disposed.
/// </remarks>
public sealed class KvDestination
{
    /// <summary>Wraps a caller's buffer.</summary>
    /// <param name="buffer">At least <c>layers × 2 × tokenCapacity × kvDim</c> values (pinned or native memory if a device reads it).</param>
    /// <param name="layers">Layers of the model.</param>
    /// <param name="kvDim">KV heads × head dimension.</param>
    /// <param name="tokenCapacity">Token rows per layer and kind.</param>
    /// <param name="chunkTokens">Tokens per chunk (the key derivation's chunk size; the last chunk may be shorter).</param>
    /// <exception cref="PrefetchException"><see cref="PrefetchErrorKind.InvalidDestination"/>: a size is out of range or the buffer is too small.</exception>
    public KvDestination(Memory<float> buffer, int layers, int kvDim, int tokenCapacity, int chunkTokens)
        : this(buffer, layers, kvDim, tokenCapacity, chunkTokens, buffer.Length)
    {
    }

    private KvDestination(MemoryBuffer1D<float, Stride1D.Dense> deviceBuffer, int layers, int kvDim, int tokenCapacity, int chunkTokens)
        : this(Memory<float>.Empty, layers, kvDim, tokenCapacity, chunkTokens, deviceBuffer.Length)
    {
        DeviceBuffer = deviceBuffer;
    }

    // Checks the shape against a buffer of `length` values.
    private KvDestination(Memory<float> buffer, int layers, int kvDim, int tokenCapacity, int chunkTokens, long length)
    {
        if (layers < 1 || kvDim < 1 || tokenCapacity < 1 || chunkTokens < 1)
            throw Invalid($"layers ({layers}), kvDim ({kvDim}), tokenCapacity ({tokenCapacity}) and chunkTokens ({chunkTokens}) must all be at least 1.");
        long needed = RequiredLength(layers, kvDim, tokenCapacity);
        if (length < needed)
            throw Invalid($"the buffer holds {length} values; {layers} layers × 2 × {tokenCapacity} tokens × {kvDim} need {needed}.");
        Buffer = buffer;
        Layers = layers;
        KvDim = kvDim;
        TokenCapacity = tokenCapacity;
        ChunkTokens = chunkTokens;
    }

    /// <summary>
    /// Wraps a caller's device buffer, laid out as a host destination is. Decoded sections go straight from the decoder's
    /// output to it on the device; a prefetcher accepts it only when its decoder is an <see cref="AcceleratorSectionDecoder"/>
    /// on <paramref name="buffer"/>'s accelerator. When <see cref="PrefetchRequest.WaitForLayerAsync"/> completes, the
    /// layer's copies have completed on the device (the decoder synchronizes its stream per section), so any stream may
    /// read it. The caller owns the buffer (it must outlive the request).
    /// </summary>
    /// <param name="buffer">At least <c>layers × 2 × tokenCapacity × kvDim</c> values.</param>
    /// <param name="layers">Layers of the model.</param>
    /// <param name="kvDim">KV heads × head dimension.</param>
    /// <param name="tokenCapacity">Token rows per layer and kind.</param>
    /// <param name="chunkTokens">Tokens per chunk.</param>
    /// <exception cref="PrefetchException"><see cref="PrefetchErrorKind.InvalidDestination"/>: a size is out of range or the buffer is too small.</exception>
    public static KvDestination OnDevice(MemoryBuffer1D<float, Stride1D.Dense> buffer, int layers, int kvDim, int tokenCapacity, int chunkTokens)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return new KvDestination(buffer, layers, kvDim, tokenCapacity, chunkTokens);
    }

    /// <summary>A destination over a new managed array.</summary>
    /// <exception cref="PrefetchException"><see cref="PrefetchErrorKind.InvalidDestination"/>: a size is out of range or needs more than one array.</exception>
    public static KvDestination Allocate(int layers, int kvDim, int tokenCapacity, int chunkTokens)
    {
        long needed = RequiredLength(Math.Max(layers, 1), Math.Max(kvDim, 1), Math.Max(tokenCapacity, 1));
        if (needed > Array.MaxLength)
            throw Invalid($"{needed} values are more than one array holds.");
        return new KvDestination(new float[needed], layers, kvDim, tokenCapacity, chunkTokens);
    }

    /// <summary>The values, for a host destination; empty for a device one.</summary>
    public Memory<float> Buffer { get; }

    /// <summary>The device buffer of a destination made with <see cref="OnDevice"/>; null for a host destination.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense>? DeviceBuffer { get; }

    /// <summary>Layers.</summary>
    public int Layers { get; }

    /// <summary>KV width: KV heads × head dimension.</summary>
    public int KvDim { get; }

    /// <summary>Token rows per layer and kind.</summary>
    public int TokenCapacity { get; }

    /// <summary>Token rows reserved per chunk.</summary>
    public int ChunkTokens { get; }

    /// <summary>One layer's K or V: <see cref="TokenCapacity"/> × <see cref="KvDim"/> values, row-major.</summary>
    public Memory<float> Section(int layer, SectionKind kind) => Rows(layer, kind, 0, TokenCapacity);

    /// <summary>Token rows <c>[firstToken, firstToken + tokens)</c> of one layer's K or V.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows are outside the destination.</exception>
    /// <exception cref="InvalidOperationException">The destination is on a device (use <see cref="DeviceRows"/>).</exception>
    public Memory<float> Rows(int layer, SectionKind kind, int firstToken, int tokens)
    {
        if (DeviceBuffer is not null)
            throw new InvalidOperationException("The destination is a device buffer; use DeviceRows.");
        (long start, int length) = Locate(layer, kind, firstToken, tokens);
        return Buffer.Slice((int)start, length);
    }

    /// <summary>One layer's K or V on the device: <see cref="TokenCapacity"/> × <see cref="KvDim"/> values, row-major.</summary>
    /// <exception cref="InvalidOperationException">The destination is in host memory (use <see cref="Section"/>).</exception>
    public ArrayView1D<float, Stride1D.Dense> DeviceSection(int layer, SectionKind kind) => DeviceRows(layer, kind, 0, TokenCapacity);

    /// <summary>Token rows <c>[firstToken, firstToken + tokens)</c> of one layer's K or V on the device.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows are outside the destination.</exception>
    /// <exception cref="InvalidOperationException">The destination is in host memory (use <see cref="Rows"/>).</exception>
    public ArrayView1D<float, Stride1D.Dense> DeviceRows(int layer, SectionKind kind, int firstToken, int tokens)
    {
        MemoryBuffer1D<float, Stride1D.Dense> device = DeviceBuffer
            ?? throw new InvalidOperationException("The destination is in host memory; use Rows.");
        (long start, int length) = Locate(layer, kind, firstToken, tokens);
        return device.View.SubView(start, (long)length); // long offsets: a device buffer may exceed 2^31 values
    }

    private (long Start, int Length) Locate(int layer, SectionKind kind, int firstToken, int tokens)
    {
        if ((uint)layer >= (uint)Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {Layers}).");
        if (kind is not (SectionKind.Keys or SectionKind.Values))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown section kind.");
        if (firstToken < 0 || tokens < 0 || (long)firstToken + tokens > TokenCapacity)
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"Rows [{firstToken}, {(long)firstToken + tokens}) are outside [0, {TokenCapacity}).");
        long start = ((2L * layer + (int)kind) * TokenCapacity + firstToken) * KvDim;
        return (start, tokens * KvDim);
    }

    private static long RequiredLength(int layers, int kvDim, int tokenCapacity) => 2L * layers * tokenCapacity * kvDim;

    private static PrefetchException Invalid(string problem) => new(PrefetchErrorKind.InvalidDestination, $"Invalid KV destination: {problem}");
}
