using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using KvTier.Gpu.Kernels;
using KvTier.Layout;

namespace KvTier.Gpu;

/// <summary>
/// Decodes one section (layer, K or V) of a parsed <see cref="ChunkRecord"/> on an ILGPU accelerator to binary32 —
/// bit for bit what <see cref="ChunkRecord.DecodeSection"/> yields on the CPU:
/// <list type="bullet">
/// <item><c>raw</c> (§7): one widening launch (f32, f16 or bf16 bits to binary32);</item>
/// <item><c>q8</c> (§8): dequantization, then rounding to the element type (§10);</item>
/// <item><c>ans</c> (§9): rANS lanes (one thread each), prediction (one thread per channel) when the payload uses it,
/// dequantization, then rounding to the element type; f16 scales are widened on the device.</item>
/// </list>
/// The host checks the section checksum and the payload layout (the same checks, in the same code, as the CPU decoder)
/// and builds the small tables (cumulative frequencies, lane offsets); the kernels do the per-element work. When a kernel
/// reports a bitstream fault, the section is decoded once more on the CPU so that the error is the CPU decoder's own
/// typed <see cref="ChunkRecordException"/>, with its offset.
/// </summary>
/// <remarks>
/// Not thread-safe: calls launch on the accelerator's default stream and must not overlap. One instance per accelerator
/// and decoding thread. The caller owns the accelerator and disposes it after this decoder. Uploads and intermediate
/// values go through device buffers kept from call to call (grown to the largest section seen), so a steady stream of
/// decodes allocates nothing on the device; <see cref="Dispose"/> frees them.
/// </remarks>
public sealed class GpuSectionDecoder : IDisposable
{
    private readonly GpuKernels _kernels;
    // Reused device buffers, one per role (a role's contents are dead once the call that filled them returns).
    private readonly DeviceScratch<float> _output = new(), _scales = new();
    private readonly DeviceScratch<uint> _words32 = new(), _states = new();
    private readonly DeviceScratch<ushort> _words16 = new(), _scaleHalves = new(), _narrow = new(), _ansWords = new();
    private readonly DeviceScratch<byte> _bytes = new();
    private readonly DeviceScratch<int> _cumulative = new(), _starts = new(), _quantized = new(), _fault = new();
    private bool _disposed;

    /// <summary>Compiles the decode kernels for <paramref name="accelerator"/> (once; slow on the first call).</summary>
    /// <exception cref="PlatformNotSupportedException">The host is big-endian (payload words are reinterpreted in place).</exception>
    public GpuSectionDecoder(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("The GPU decoder reads payload words in host order and needs a little-endian host.");
        _kernels = new GpuKernels(accelerator);
    }

    /// <summary>The accelerator this decoder launches on.</summary>
    public Accelerator Accelerator => _kernels.Accelerator;

    /// <summary>
    /// Decodes section (<paramref name="layer"/>, <paramref name="kind"/>) into a new device buffer of
    /// tokens × KV width binary32 values, row-major. The caller disposes the buffer; the launches have completed on return.
    /// </summary>
    /// <exception cref="ChunkRecordException">The section's checksum or payload is bad (the CPU decoder's error).</exception>
    public MemoryBuffer1D<float, Stride1D.Dense> Decode(ChunkRecord record, int layer, SectionKind kind)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return DecodePayload(record, layer, kind, record.GetPayload(layer, kind));
    }

    /// <summary>
    /// Decodes a copy of section (<paramref name="layer"/>, <paramref name="kind"/>)'s payload that the caller has already
    /// checked against its checksum and staged (for example in page-locked memory, which the upload then reads by DMA)
    /// into a new device buffer, as <see cref="Decode(ChunkRecord, int, SectionKind)"/> does without hashing it again.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="payload"/> is not the section's length.</exception>
    /// <exception cref="ChunkRecordException">The payload is malformed (the CPU decoder's error).</exception>
    public MemoryBuffer1D<float, Stride1D.Dense> DecodePayload(ChunkRecord record, int layer, SectionKind kind, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckSection(record, layer, kind, payload);
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        MemoryBuffer1D<float, Stride1D.Dense> output = Accelerator.Allocate1D<float>(elements);
        try
        {
            DecodeInto(record, layer, kind, payload, output.View);
            return output;
        }
        catch
        {
            output.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Decodes an already checked payload (see <see cref="DecodePayload(ChunkRecord, int, SectionKind, ReadOnlySpan{byte})"/>)
    /// straight into <paramref name="destination"/>, a view of this decoder's accelerator: no intermediate buffer and no
    /// device-to-device copy. The launches have completed on return.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="payload"/> or <paramref name="destination"/> has the wrong length, or the view is on another accelerator.</exception>
    /// <exception cref="ChunkRecordException">The payload is malformed (the CPU decoder's error).</exception>
    public void DecodePayload(ChunkRecord record, int layer, SectionKind kind, ReadOnlySpan<byte> payload, ArrayView1D<float, Stride1D.Dense> destination)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        if (destination.Length != elements)
            throw new ArgumentException($"Destination holds {destination.Length} values; the section has {elements}.", nameof(destination));
        if (destination.GetAccelerator() != Accelerator)
            throw new ArgumentException("The destination is a view of another accelerator.", nameof(destination));
        CheckSection(record, layer, kind, payload);
        DecodeInto(record, layer, kind, payload, destination);
    }

    /// <summary>Frees the reused device buffers. The decoder cannot be used afterwards.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (IDisposable scratch in new IDisposable[] { _output, _scales, _words32, _states, _words16, _scaleHalves, _narrow, _ansWords, _bytes, _cumulative, _starts, _quantized, _fault })
            scratch.Dispose();
    }

    /// <summary>Device bytes held in reused buffers now (for diagnostics).</summary>
    public long ScratchBytes =>
        _output.Bytes + _scales.Bytes + _words32.Bytes + _states.Bytes + _words16.Bytes + _scaleHalves.Bytes + _narrow.Bytes
        + _ansWords.Bytes + _bytes.Bytes + _cumulative.Bytes + _starts.Bytes + _quantized.Bytes + _fault.Bytes;

    private static void CheckSection(ChunkRecord record, int layer, SectionKind kind, ReadOnlySpan<byte> payload)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, record.Header.Layout.Layers);
        long expected = record.Sections[2 * layer + (int)kind].Length;
        if (payload.Length != expected)
            throw new ArgumentException($"The payload is {payload.Length} bytes; the section is {expected}.", nameof(payload));
    }

    /// <summary>Runs the codec's kernels into <paramref name="output"/> and waits for them; a bad payload throws the CPU decoder's error.</summary>
    private void DecodeInto(ChunkRecord record, int layer, SectionKind kind, ReadOnlySpan<byte> payload, ArrayView1D<float, Stride1D.Dense> output)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ChunkRecordHeader header = record.Header;
        bool valid = header.Codec switch
        {
            CodecId.Raw => DecodeRaw(header, payload, output),
            CodecId.Q8 => DecodeQ8(header, payload, output),
            CodecId.Ans => DecodeAns(record, layer, kind, payload, output),
            _ => false,
        };
        if (!valid)
            ThrowFromCpu(record, layer, kind);
        Accelerator.Synchronize();
    }

    /// <summary>Decodes section (<paramref name="layer"/>, <paramref name="kind"/>) on the device into <paramref name="destination"/> (tokens × KV width values).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    /// <exception cref="ChunkRecordException">The section's checksum or payload is bad.</exception>
    public void Decode(ChunkRecord record, int layer, SectionKind kind, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        if (destination.Length != elements)
            throw new ArgumentException($"Destination holds {destination.Length} values; the section has {elements}.", nameof(destination));
        DecodePayload(record, layer, kind, record.GetPayload(layer, kind), destination); // The length is checked before the checksum pass.
    }

    /// <summary>Decodes an already checked, staged payload on the device into <paramref name="destination"/> (see <see cref="DecodePayload(ChunkRecord, int, SectionKind, ReadOnlySpan{byte})"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> or <paramref name="payload"/> has the wrong length.</exception>
    /// <exception cref="ChunkRecordException">The payload is malformed.</exception>
    public void DecodePayload(ChunkRecord record, int layer, SectionKind kind, ReadOnlySpan<byte> payload, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        if (destination.Length != elements)
            throw new ArgumentException($"Destination holds {destination.Length} values; the section has {elements}.", nameof(destination));
        CheckSection(record, layer, kind, payload);
        ArrayView1D<float, Stride1D.Dense> output = _output.Get(Accelerator, elements);
        DecodeInto(record, layer, kind, payload, output);
        output.CopyToCPU(Accelerator.DefaultStream, destination);
        Accelerator.Synchronize();
    }

    /// <summary>
    /// Decodes section (<paramref name="layer"/>, <paramref name="kind"/>) to little-endian elements of the record's
    /// element type, as <see cref="ChunkRecord.DecodeSectionElements"/> does: a raw payload unchanged; a lossy one decoded on
    /// the device and narrowed there (§10).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    /// <exception cref="ChunkRecordException">The section's checksum or payload is bad.</exception>
    public void DecodeElements(ChunkRecord record, int layer, SectionKind kind, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_disposed, this);
        KvLayout layout = record.Header.Layout;
        int elements = record.Header.TokenCount * layout.KvDim;
        if (destination.Length != elements * layout.ElementSize)
            throw new ArgumentException($"Destination holds {destination.Length} bytes; the section decodes to {elements * layout.ElementSize}.", nameof(destination));
        if (record.Header.Codec == CodecId.Raw)
        {
            ReadOnlySpan<byte> payload = record.GetPayload(layer, kind);
            if (payload.Length != destination.Length)
                ThrowFromCpu(record, layer, kind);
            payload.CopyTo(destination);
            return;
        }

        ArrayView1D<float, Stride1D.Dense> values = _output.Get(Accelerator, elements);
        DecodeInto(record, layer, kind, record.GetPayload(layer, kind), values);
        if (layout.ElementType == KvElementType.Float32)
        {
            // SAFETY: the destination's bytes viewed as binary32 on a little-endian host (checked in the constructor); lengths checked above.
            values.CopyToCPU(Accelerator.DefaultStream, MemoryMarshal.Cast<byte, float>(destination));
            Accelerator.Synchronize();
            return;
        }

        ArrayView1D<ushort, Stride1D.Dense> narrow = _narrow.Get(Accelerator, elements);
        if (layout.ElementType == KvElementType.Float16)
            _kernels.NarrowToHalf(elements, values, narrow);
        else
            _kernels.NarrowToBFloat16(elements, values, narrow);
        // SAFETY: as above, 16-bit elements.
        narrow.CopyToCPU(Accelerator.DefaultStream, MemoryMarshal.Cast<byte, ushort>(destination));
        Accelerator.Synchronize();
    }

    private bool DecodeRaw(ChunkRecordHeader header, ReadOnlySpan<byte> payload, ArrayView1D<float, Stride1D.Dense> output)
    {
        KvElementType type = header.Layout.ElementType;
        int size = type == KvElementType.Float32 ? 4 : 2;
        if (payload.Length != output.Length * size)
            return false;
        if (type == KvElementType.Float32)
        {
            // SAFETY: reinterprets the little-endian payload (checked host order) as u32 words; the length is a multiple of 4.
            ArrayView1D<uint, Stride1D.Dense> words = _words32.Upload(Accelerator, MemoryMarshal.Cast<byte, uint>(payload));
            _kernels.WidenSingle((int)output.Length, words, output);
            return true;
        }

        // SAFETY: as above, 16-bit words.
        ArrayView1D<ushort, Stride1D.Dense> halves = _words16.Upload(Accelerator, MemoryMarshal.Cast<byte, ushort>(payload));
        if (type == KvElementType.Float16)
            _kernels.WidenHalf((int)output.Length, halves, output);
        else
            _kernels.WidenBFloat16((int)output.Length, halves, output);
        return true;
    }

    private bool DecodeQ8(ChunkRecordHeader header, ReadOnlySpan<byte> payload, ArrayView1D<float, Stride1D.Dense> output)
    {
        KvLayout layout = header.Layout;
        int groups = header.TokenCount * layout.KvHeads;
        int elements = (int)output.Length;
        if (payload.Length != 4L * groups + elements)
            return false;
        ReadOnlySpan<float> scales = MemoryMarshal.Cast<byte, float>(payload[..(4 * groups)]);
        foreach (float scale in scales)
        {
            if (!float.IsFinite(scale) || scale < 0)
                return false;
        }

        ArrayView1D<float, Stride1D.Dense> scaleBuffer = _scales.Upload(Accelerator, scales);
        ArrayView1D<byte, Stride1D.Dense> quantized = _bytes.Upload(Accelerator, payload[(4 * groups)..]);
        ArrayView1D<int, Stride1D.Dense> fault = NewFault();
        _kernels.Q8Dequantize(elements, quantized, scaleBuffer, output, fault, layout.HeadDim);
        RoundToElementType(layout.ElementType, output);
        return NoFault(fault);
    }

    private bool DecodeAns(ChunkRecord record, int layer, SectionKind kind, ReadOnlySpan<byte> payload, ArrayView1D<float, Stride1D.Dense> output)
    {
        ChunkRecordHeader header = record.Header;
        KvLayout layout = header.Layout;
        long payloadOffset = record.Sections[2 * layer + (int)kind].Offset;
        var context = new SectionContext(layout, header.TokenCount, layer, kind, record.SourceName, payloadOffset);
        AnsHostTables tables = AnsHostTables.Build(context, payload); // throws BadPayload exactly as the CPU decoder does
        AnsPayloadLayout fields = tables.Fields;
        AnsLaneShape shape = tables.Shape;
        ArrayView1D<int, Stride1D.Dense> cumulativeBuffer = _cumulative.Upload(Accelerator, tables.Cumulative);
        ArrayView1D<uint, Stride1D.Dense> stateBuffer = _states.Upload(Accelerator, tables.States);
        ArrayView1D<int, Stride1D.Dense> startBuffer = _starts.Upload(Accelerator, tables.Starts);
        ArrayView1D<ushort, Stride1D.Dense> wordBuffer = _ansWords.Upload(Accelerator, tables.Words);
        ArrayView1D<float, Stride1D.Dense> scales = UploadScales(fields, payload);
        ArrayView1D<int, Stride1D.Dense> quantized = _quantized.Get(Accelerator, output.Length);
        ArrayView1D<int, Stride1D.Dense> fault = NewFault();

        _kernels.AnsDecodeLanes(shape.Lanes, cumulativeBuffer, stateBuffer, startBuffer, wordBuffer, quantized, fault, shape);
        if (fields.Prediction == 1)
            _kernels.AnsAccumulatePrediction(shape.KvDim, quantized, fault, shape);
        _kernels.AnsDequantize(shape.Elements, quantized, scales, output, shape);
        RoundToElementType(layout.ElementType, output);
        return NoFault(fault);
    }

    private ArrayView1D<float, Stride1D.Dense> UploadScales(in AnsPayloadLayout fields, ReadOnlySpan<byte> payload)
    {
        ReadOnlySpan<byte> region = payload.Slice(fields.ScalesOffset, fields.ScaleSize * fields.ScaleCount);
        if (fields.ScaleType == AnsScaleType.Float32)
            return _scales.Upload(Accelerator, MemoryMarshal.Cast<byte, float>(region));

        ArrayView1D<ushort, Stride1D.Dense> halves = _scaleHalves.Upload(Accelerator, MemoryMarshal.Cast<byte, ushort>(region));
        ArrayView1D<float, Stride1D.Dense> scales = _scales.Get(Accelerator, fields.ScaleCount);
        _kernels.WidenHalf(fields.ScaleCount, halves, scales);
        return scales;
    }

    private void RoundToElementType(KvElementType type, ArrayView1D<float, Stride1D.Dense> values)
    {
        if (type == KvElementType.Float16)
            _kernels.RoundToHalf((int)values.Length, values);
        else if (type == KvElementType.BFloat16)
            _kernels.RoundToBFloat16((int)values.Length, values);
    }

    private ArrayView1D<int, Stride1D.Dense> NewFault()
    {
        ArrayView1D<int, Stride1D.Dense> fault = _fault.Get(Accelerator, 1);
        fault.MemSetToZero(Accelerator.DefaultStream);
        return fault;
    }

    private bool NoFault(ArrayView1D<int, Stride1D.Dense> fault)
    {
        Span<int> flag = stackalloc int[1];
        fault.CopyToCPU(Accelerator.DefaultStream, flag);
        Accelerator.Synchronize();
        return flag[0] == 0;
    }

    /// <summary>A kernel or host check saw a bad payload: the CPU decoder names the error (kind, offset).</summary>
    private static void ThrowFromCpu(ChunkRecord record, int layer, SectionKind kind)
    {
        record.DecodeSection(layer, kind, new float[record.Header.TokenCount * record.Header.Layout.KvDim]);
        throw new ChunkRecordException(ChunkRecordErrorKind.BadPayload, $"layer {layer} {kind} payload is inconsistent (seen by the GPU decoder only).", record.SourceName, record.Sections[2 * layer + (int)kind].Offset);
    }
}
