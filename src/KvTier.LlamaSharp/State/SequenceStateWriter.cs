using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using KvTier.Format;
using KvTier.Format.Elements;
using KvTier.Layout;

namespace KvTier.LlamaSharp.State;

/// <summary>
/// Builds the blob <c>llama_state_seq_set_data</c> loads (the layout above <see cref="SequenceState"/> in its source file)
/// for cells at positions 0, 1, …, converting fp32 K and V rows straight into their place in the cache's element type.
/// A load thus holds one copy of the prompt's KV (the blob) besides the rows being converted, where building a
/// <see cref="SequenceState"/> and writing it out holds two.
/// </summary>
/// <remarks>Not thread-safe: one thread writes rows at a time.</remarks>
internal sealed class SequenceStateWriter
{
    private const int HeaderSize = 16;
    private const int CellSize = 12;
    private const int LayerHeaderSize = 12;
    private const int TransposeBlockRows = 64;

    private byte[] _blob;

    /// <summary>Allocates the blob: header, cells at positions 0 … <paramref name="cellCount"/> − 1, layer headers, zero rows.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range, or the blob would exceed one array.</exception>
    public SequenceStateWriter(int sequenceId, int layers, int kvDim, KvElementType elementType, bool valuesTransposed, int cellCount)
    {
        new SequenceStateShape(layers, kvDim, elementType, valuesTransposed).Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(sequenceId);
        if (cellCount is < 1 or > SequenceState.MaxCells)
            throw new ArgumentOutOfRangeException(nameof(cellCount), cellCount, $"Cell count must be within [1, {SequenceState.MaxCells}].");
        SequenceId = sequenceId;
        Layers = layers;
        KvDim = kvDim;
        ElementType = elementType;
        ValuesTransposed = valuesTransposed;
        ElementSize = ElementConversion.SizeOf(elementType);
        long size = ByteCount(cellCount);
        if (size > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(cellCount), cellCount, $"A state of {cellCount} cells is {size} bytes, more than one array holds.");
        _blob = new byte[size];
        CellCount = cellCount;
        WriteMetadata(_blob, cellCount);
    }

    public int SequenceId { get; }

    public int Layers { get; }

    public int KvDim { get; }

    public KvElementType ElementType { get; }

    public bool ValuesTransposed { get; }

    public int ElementSize { get; }

    /// <summary>Cells the blob holds (fewer after <see cref="Truncate"/>).</summary>
    public int CellCount { get; private set; }

    private int RowBytes => KvDim * ElementSize;

    /// <summary>The blob: complete once every cell's rows of every layer are written.</summary>
    public byte[] Blob => _blob;

    /// <summary>Converts <paramref name="rows"/> (<c>[cell][kvDim]</c> fp32) into the cells from <paramref name="firstCell"/> on.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows run past the cells, or are not whole rows.</exception>
    public void WriteRows(int layer, SectionKind kind, int firstCell, ReadOnlySpan<float> rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Layers);
        if (rows.Length % KvDim != 0)
            throw new ArgumentOutOfRangeException(nameof(rows), rows.Length, $"Rows are whole multiples of {KvDim} values.");
        int count = rows.Length / KvDim;
        if (firstCell < 0 || (long)firstCell + count > CellCount)
            throw new ArgumentOutOfRangeException(nameof(firstCell), firstCell, $"Cells [{firstCell}, {(long)firstCell + count}) run past the {CellCount} cells.");

        Span<byte> block = _blob.AsSpan(BlockOffset(layer, kind, CellCount), CellCount * RowBytes);
        if (kind == SectionKind.Keys || !ValuesTransposed)
        {
            ElementConversion.FromSingle(ElementType, rows, block.Slice(firstCell * RowBytes, count * RowBytes));
            return;
        }

        // V transposed ([kvDim][cell]): convert a block of rows, then scatter each column into its place.
        byte[] converted = ArrayPool<byte>.Shared.Rent(TransposeBlockRows * RowBytes);
        try
        {
            for (int start = 0; start < count; start += TransposeBlockRows)
            {
                int n = Math.Min(TransposeBlockRows, count - start);
                Span<byte> part = converted.AsSpan(0, n * RowBytes);
                ElementConversion.FromSingle(ElementType, rows.Slice(start * KvDim, n * KvDim), part);
                if (ElementSize == 2)
                    Scatter(MemoryMarshal.Cast<byte, ushort>(part), MemoryMarshal.Cast<byte, ushort>(block), n, firstCell + start);
                else
                    Scatter(MemoryMarshal.Cast<byte, uint>(part), MemoryMarshal.Cast<byte, uint>(block), n, firstCell + start);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(converted);
        }
    }

    /// <summary>
    /// Keeps only the first <paramref name="cellCount"/> cells (when a later chunk could not be loaded): moves every
    /// written row to where a blob of that many cells has it and shortens the blob.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not within [1, <see cref="CellCount"/>].</exception>
    public void Truncate(int cellCount)
    {
        if (cellCount < 1 || cellCount > CellCount)
            throw new ArgumentOutOfRangeException(nameof(cellCount), cellCount, $"Cell count must be within [1, {CellCount}].");
        if (cellCount == CellCount)
            return;
        var blob = new byte[ByteCount(cellCount)];
        WriteMetadata(blob, cellCount);
        for (int layer = 0; layer < Layers; layer++)
        {
            for (int kind = 0; kind < 2; kind++)
            {
                ReadOnlySpan<byte> from = _blob.AsSpan(BlockOffset(layer, (SectionKind)kind, CellCount), CellCount * RowBytes);
                Span<byte> to = blob.AsSpan(BlockOffset(layer, (SectionKind)kind, cellCount), cellCount * RowBytes);
                if ((SectionKind)kind == SectionKind.Keys || !ValuesTransposed)
                {
                    from[..to.Length].CopyTo(to);
                    continue;
                }
                int columnBytes = cellCount * ElementSize;
                for (int d = 0; d < KvDim; d++)
                    from.Slice(d * CellCount * ElementSize, columnBytes).CopyTo(to.Slice(d * columnBytes, columnBytes));
            }
        }
        _blob = blob;
        CellCount = cellCount;
    }

    // Column d of the `rows` converted rows goes to cells [firstCell, firstCell + rows) of column d of the transposed block.
    private void Scatter<T>(ReadOnlySpan<T> part, Span<T> block, int rows, int firstCell) where T : struct
    {
        int cells = CellCount;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> row = part.Slice(r * KvDim, KvDim);
            int cell = firstCell + r;
            for (int d = 0; d < KvDim; d++)
                block[d * cells + cell] = row[d];
        }
    }

    private long ByteCount(int cells) => HeaderSize + (long)cells * CellSize + 8 + 2L * Layers * (LayerHeaderSize + (long)cells * RowBytes);

    // Where a layer's K or V rows start in a blob of `cells` cells (after the layer's header).
    private int BlockOffset(int layer, SectionKind kind, int cells)
    {
        long metaEnd = HeaderSize + (long)cells * CellSize + 8;
        long layerBytes = LayerHeaderSize + (long)cells * RowBytes;
        return checked((int)(metaEnd + ((int)kind * (long)Layers + layer) * layerBytes + LayerHeaderSize));
    }

    private void WriteMetadata(Span<byte> o, int cells)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(o, SequenceState.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(o[4..], SequenceId);
        BinaryPrimitives.WriteUInt32LittleEndian(o[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(o[12..], (uint)cells);
        int p = HeaderSize;
        for (int cell = 0; cell < cells; cell++, p += CellSize)
        {
            BinaryPrimitives.WriteInt32LittleEndian(o[p..], cell);
            BinaryPrimitives.WriteUInt32LittleEndian(o[(p + 4)..], 1);
            BinaryPrimitives.WriteInt32LittleEndian(o[(p + 8)..], SequenceId);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(o[p..], ValuesTransposed ? 1u : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(o[(p + 4)..], (uint)Layers);
        int typeId = ElementType == KvElementType.Float32 ? SequenceState.GgmlTypeF32 : SequenceState.GgmlTypeF16;
        for (int layer = 0; layer < Layers; layer++)
        {
            for (int kind = 0; kind < 2; kind++)
            {
                int header = BlockOffset(layer, (SectionKind)kind, cells) - LayerHeaderSize;
                BinaryPrimitives.WriteInt32LittleEndian(o[header..], typeId);
                if ((SectionKind)kind == SectionKind.Values && ValuesTransposed)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(o[(header + 4)..], (uint)ElementSize);
                    BinaryPrimitives.WriteUInt32LittleEndian(o[(header + 8)..], (uint)KvDim);
                }
                else
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(o[(header + 4)..], (ulong)RowBytes);
                }
            }
        }
    }
}
