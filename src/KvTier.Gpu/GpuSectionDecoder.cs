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
/// and decoding thread. The caller owns the accelerator and disposes it after this decoder.
/// </remarks>
public sealed class GpuSectionDecoder
{
    private readonly GpuKernels _kernels;

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
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, record.Header.Layout.Layers);
        long expected = record.Sections[2 * layer + (int)kind].Length;
        if (payload.Length != expected)
            throw new ArgumentException($"The payload is {payload.Length} bytes; the section is {expected}.", nameof(payload));
        ChunkRecordHeader header = record.Header;
        int elements = header.TokenCount * header.Layout.KvDim;
        MemoryBuffer1D<float, Stride1D.Dense> output = Accelerator.Allocate1D<float>(elements);
        try
        {
            bool valid = header.Codec switch
            {
                CodecId.Raw => DecodeRaw(header, payload, output.View),
                CodecId.Q8 => DecodeQ8(header, payload, output.View),
                CodecId.Ans => DecodeAns(record, layer, kind, payload, output.View),
                _ => false,
            };
            if (!valid)
                ThrowFromCpu(record, layer, kind);
            Accelerator.Synchronize();
            return output;
        }
        catch
        {
            output.Dispose();
            throw;
        }
    }

    /// <summary>Decodes section (<paramref name="layer"/>, <paramref name="kind"/>) on the device into <paramref name="destination"/> (tokens × KV width values).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    /// <exception cref="ChunkRecordException">The section's checksum or payload is bad.</exception>
    public void Decode(ChunkRecord record, int layer, SectionKind kind, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(record);
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        if (destination.Length != elements)
            throw new ArgumentException($"Destination holds {destination.Length} values; the section has {elements}.", nameof(destination));
        using MemoryBuffer1D<float, Stride1D.Dense> buffer = Decode(record, layer, kind);
        buffer.View.CopyToCPU(Accelerator.DefaultStream, destination);
        Accelerator.Synchronize();
    }

    /// <summary>Decodes an already checked, staged payload on the device into <paramref name="destination"/> (see <see cref="DecodePayload(ChunkRecord, int, SectionKind, ReadOnlySpan{byte})"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> or <paramref name="payload"/> has the wrong length.</exception>
    /// <exception cref="ChunkRecordException">The payload is malformed.</exception>
    public void DecodePayload(ChunkRecord record, int layer, SectionKind kind, ReadOnlySpan<byte> payload, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(record);
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        if (destination.Length != elements)
            throw new ArgumentException($"Destination holds {destination.Length} values; the section has {elements}.", nameof(destination));
        using MemoryBuffer1D<float, Stride1D.Dense> buffer = DecodePayload(record, layer, kind, payload);
        buffer.View.CopyToCPU(Accelerator.DefaultStream, destination);
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

        using MemoryBuffer1D<float, Stride1D.Dense> values = Decode(record, layer, kind);
        if (layout.ElementType == KvElementType.Float32)
        {
            // SAFETY: the destination's bytes viewed as binary32 on a little-endian host (checked in the constructor); lengths checked above.
            values.View.CopyToCPU(Accelerator.DefaultStream, MemoryMarshal.Cast<byte, float>(destination));
            Accelerator.Synchronize();
            return;
        }

        using MemoryBuffer1D<ushort, Stride1D.Dense> narrow = Accelerator.Allocate1D<ushort>(elements);
        if (layout.ElementType == KvElementType.Float16)
            _kernels.NarrowToHalf(elements, values.View, narrow.View);
        else
            _kernels.NarrowToBFloat16(elements, values.View, narrow.View);
        // SAFETY: as above, 16-bit elements.
        narrow.View.CopyToCPU(Accelerator.DefaultStream, MemoryMarshal.Cast<byte, ushort>(destination));
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
            using MemoryBuffer1D<uint, Stride1D.Dense> words = Upload(MemoryMarshal.Cast<byte, uint>(payload));
            _kernels.WidenSingle((int)output.Length, words.View, output);
            Accelerator.Synchronize();
            return true;
        }

        // SAFETY: as above, 16-bit words.
        using MemoryBuffer1D<ushort, Stride1D.Dense> halves = Upload(MemoryMarshal.Cast<byte, ushort>(payload));
        if (type == KvElementType.Float16)
            _kernels.WidenHalf((int)output.Length, halves.View, output);
        else
            _kernels.WidenBFloat16((int)output.Length, halves.View, output);
        Accelerator.Synchronize();
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

        using MemoryBuffer1D<float, Stride1D.Dense> scaleBuffer = Upload(scales);
        using MemoryBuffer1D<byte, Stride1D.Dense> quantized = Upload(payload[(4 * groups)..]);
        using MemoryBuffer1D<int, Stride1D.Dense> fault = NewFault();
        _kernels.Q8Dequantize(elements, quantized.View, scaleBuffer.View, output, fault.View, layout.HeadDim);
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
        using MemoryBuffer1D<int, Stride1D.Dense> cumulativeBuffer = Upload<int>(tables.Cumulative);
        using MemoryBuffer1D<uint, Stride1D.Dense> stateBuffer = Upload<uint>(tables.States);
        using MemoryBuffer1D<int, Stride1D.Dense> startBuffer = Upload<int>(tables.Starts);
        using MemoryBuffer1D<ushort, Stride1D.Dense> wordBuffer = Upload<ushort>(tables.Words);
        using MemoryBuffer1D<float, Stride1D.Dense> scales = UploadScales(fields, payload);
        using MemoryBuffer1D<int, Stride1D.Dense> quantized = Accelerator.Allocate1D<int>(output.Length);
        using MemoryBuffer1D<int, Stride1D.Dense> fault = NewFault();

        _kernels.AnsDecodeLanes(shape.Lanes, cumulativeBuffer.View, stateBuffer.View, startBuffer.View, wordBuffer.View, quantized.View, fault.View, shape);
        if (fields.Prediction == 1)
            _kernels.AnsAccumulatePrediction(shape.KvDim, quantized.View, fault.View, shape);
        _kernels.AnsDequantize(shape.Elements, quantized.View, scales.View, output, shape);
        RoundToElementType(layout.ElementType, output);
        return NoFault(fault);
    }

    private MemoryBuffer1D<float, Stride1D.Dense> UploadScales(in AnsPayloadLayout fields, ReadOnlySpan<byte> payload)
    {
        ReadOnlySpan<byte> region = payload.Slice(fields.ScalesOffset, fields.ScaleSize * fields.ScaleCount);
        if (fields.ScaleType == AnsScaleType.Float32)
            return Upload(MemoryMarshal.Cast<byte, float>(region));

        using MemoryBuffer1D<ushort, Stride1D.Dense> halves = Upload(MemoryMarshal.Cast<byte, ushort>(region));
        MemoryBuffer1D<float, Stride1D.Dense> scales = Accelerator.Allocate1D<float>(fields.ScaleCount);
        _kernels.WidenHalf(fields.ScaleCount, halves.View, scales.View);
        Accelerator.Synchronize(); // before the staging buffer is freed
        return scales;
    }

    private void RoundToElementType(KvElementType type, ArrayView1D<float, Stride1D.Dense> values)
    {
        if (type == KvElementType.Float16)
            _kernels.RoundToHalf((int)values.Length, values);
        else if (type == KvElementType.BFloat16)
            _kernels.RoundToBFloat16((int)values.Length, values);
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(ReadOnlySpan<T> data)
        where T : unmanaged
    {
        MemoryBuffer1D<T, Stride1D.Dense> buffer = Accelerator.Allocate1D<T>(data.Length);
        buffer.View.CopyFromCPU(Accelerator.DefaultStream, data);
        return buffer;
    }

    private MemoryBuffer1D<int, Stride1D.Dense> NewFault()
    {
        MemoryBuffer1D<int, Stride1D.Dense> fault = Accelerator.Allocate1D<int>(1);
        fault.MemSetToZero();
        return fault;
    }

    private bool NoFault(MemoryBuffer1D<int, Stride1D.Dense> fault)
    {
        Span<int> flag = stackalloc int[1];
        fault.View.CopyToCPU(Accelerator.DefaultStream, flag);
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
