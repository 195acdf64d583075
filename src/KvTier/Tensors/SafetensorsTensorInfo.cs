using System.Collections.Immutable;

namespace KvTier.Tensors;

/// <summary>
/// One tensor entry of a safetensors header, validated: its dtype, shape and where its bytes lie.
/// Offsets are relative to the start of the data buffer, as in the header; end is exclusive.
/// </summary>
/// <remarks>Immutable; safe to share between threads.</remarks>
public sealed class SafetensorsTensorInfo
{
    internal SafetensorsTensorInfo(string name, SafetensorsDType dtype, ImmutableArray<long> shape, long elementCount, long dataBegin, long dataEnd)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        ElementCount = elementCount;
        DataBegin = dataBegin;
        DataEnd = dataEnd;
    }

    /// <summary>The tensor's name, the key of its header entry.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public SafetensorsDType DType { get; }

    /// <summary>Dimensions, outermost first (row-major); empty for a scalar.</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>Number of elements: the product of <see cref="Shape"/> (1 for a scalar, 0 when any dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary>First byte of the tensor, relative to the start of the data buffer.</summary>
    public long DataBegin { get; }

    /// <summary>One past the last byte of the tensor, relative to the start of the data buffer.</summary>
    public long DataEnd { get; }

    /// <summary>Size of the tensor's data in bytes: <see cref="ElementCount"/> × the dtype's element size.</summary>
    public long ByteLength => DataEnd - DataBegin;
}
