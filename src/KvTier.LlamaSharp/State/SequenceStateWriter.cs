using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using KvTier.Format;
using KvTier.Format.Elements;
using KvTier.Layout;

namespace KvTier.LlamaSharp.State;

/// <summary>
/// Builds the blob <c>llama_state_seq_set_data</c> loads (the layout above <see cref="SequenceState"/> in its source file),
/// writing K and V rows straight into their place: fp32 rows converted to the cache's element type
/// (<see cref="WriteRows"/>), or rows already in it (<see cref="WriteElementRows"/>, which <see cref="SequenceState.ToArray"/>
/// uses). A load thus holds one copy of the prompt's KV (the blob) besides the rows being converted. The one writer of
/// the layout; <see cref="SequenceState.Parse"/> is its reader.
/// </summary>
/// <remarks>Not thread-safe: one thread writes rows at a time.</remarks>
internal sealed class SequenceStateWriter
{
    private const int HeaderSize = 16;
    private const int CellSize = 12;
    private const int LayerHeaderSize = 12;
    private const int TransposeBlockRows = 64;

    private readonly byte[] _buffer;
    private readonly int[]? _positions; // each cell's position; null: cell i at position i

    /// <summary>
    /// Lays out the blob in <paramref name="buffer"/> (or a new array): header, cells (at <paramref name="positions"/>, or
    /// 0 … <paramref name="cellCount"/> − 1), layer headers; the rows are what the buffer held until they are written.
    /// </summary>
    /// <param name="sequenceId">The sequence id written into the blob.</param>
    /// <param name="layers">Layers.</param>
    /// <param name="kvDim">KV heads × head dimension.</param>
    /// <param name="elementType">F32 or F16.</param>
    /// <param name="valuesTransposed">Whether V is stored transposed (a context without flash attention).</param>
    /// <param name="cellCount">Cells, 1 to <see cref="SequenceState.MaxCells"/>.</param>
    /// <param name="buffer">A buffer to reuse, at least <see cref="ByteCount"/> bytes; null for a new one.</param>
    /// <param name="positions">Each cell's position (<paramref name="cellCount"/> of them); null for 0, 1, ….</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range, the blob would exceed one array, or the buffer is too small.</exception>
    public SequenceStateWriter(int sequenceId, int layers, int kvDim, KvElementType elementType, bool valuesTransposed, int cellCount, byte[]? buffer = null,
        int[]? positions = null)
    {
        new SequenceStateShape(layers, kvDim, elementType, valuesTransposed).Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(sequenceId);
        if (cellCount is < 1 or > SequenceState.MaxCells)
            throw new ArgumentOutOfRangeException(nameof(cellCount), cellCount, $"Cell count must be within [1, {SequenceState.MaxCells}] (an empty state is EmptyBlob's).");
        if (positions is not null && positions.Length != cellCount)
            throw new ArgumentOutOfRangeException(nameof(positions), positions.Length, $"{cellCount} cells need {cellCount} positions.");
        SequenceId = sequenceId;
        Layers = layers;
        KvDim = kvDim;
        ElementType = elementType;
        ValuesTransposed = valuesTransposed;
        ElementSize = ElementConversion.SizeOf(elementType);
        long size = ByteCount(layers, kvDim, elementType, cellCount);
        if (size > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(cellCount), cellCount, $"A state of {cellCount} cells is {size} bytes, more than one array holds.");
        if (buffer is not null && buffer.Length < size)
            throw new ArgumentOutOfRangeException(nameof(buffer), buffer.Length, $"A state of {cellCount} cells needs {size} bytes.");
        _buffer = buffer ?? new byte[size];
        _positions = positions;
        CellCount = cellCount;
        Length = (int)size;
        WriteMetadata(_buffer, cellCount);
    }

    /// <summary>The blob of a sequence that holds no cells: the header alone.</summary>
    public static byte[] EmptyBlob(int sequenceId)
    {
        var blob = new byte[HeaderSize];
        WriteHeader(blob, sequenceId, 0);
        return blob;
    }

    /// <summary>The bytes of a state of <paramref name="cellCount"/> cells of this shape.</summary>
    public static long ByteCount(int layers, int kvDim, KvElementType elementType, int cellCount) => cellCount == 0
        ? HeaderSize
        : HeaderSize + (long)cellCount * CellSize + 8 + 2L * layers * (LayerHeaderSize + (long)cellCount * kvDim * ElementConversion.SizeOf(elementType));

    public int SequenceId { get; }

    public int Layers { get; }

    public int KvDim { get; }

    public KvElementType ElementType { get; }

    public bool ValuesTransposed { get; }

    public int ElementSize { get; }

    /// <summary>Cells the blob holds (fewer after <see cref="Truncate"/>).</summary>
    public int CellCount { get; private set; }

    private int RowBytes => KvDim * ElementSize;

    /// <summary>The buffer the blob is in: its first <see cref="Length"/> bytes.</summary>
    public byte[] Buffer => _buffer;

    /// <summary>The blob's length.</summary>
    public int Length { get; private set; }

    /// <summary>The blob: complete once every cell's rows of every layer are written.</summary>
    public ReadOnlySpan<byte> Blob => _buffer.AsSpan(0, Length);

    /// <summary>Converts <paramref name="rows"/> (<c>[cell][kvDim]</c> fp32) into the cells from <paramref name="firstCell"/> on.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows run past the cells, or are not whole rows.</exception>
    public void WriteRows(int layer, SectionKind kind, int firstCell, ReadOnlySpan<float> rows)
    {
        Span<byte> block = Block(layer, kind, firstCell, rows.Length);
        int count = rows.Length / KvDim;
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
                Scatter(part, block, firstCell + start);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(converted);
        }
    }

    /// <summary>
    /// Copies <paramref name="rows"/> (<c>[cell][kvDim]</c> in the element type, little-endian) into the cells from
    /// <paramref name="firstCell"/> on.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows run past the cells, or are not whole rows.</exception>
    public void WriteElementRows(int layer, SectionKind kind, int firstCell, ReadOnlySpan<byte> rows)
    {
        if (rows.Length % ElementSize != 0)
            throw new ArgumentOutOfRangeException(nameof(rows), rows.Length, $"Rows are whole {ElementSize}-byte elements.");
        Span<byte> block = Block(layer, kind, firstCell, rows.Length / ElementSize);
        if (kind == SectionKind.Keys || !ValuesTransposed)
            rows.CopyTo(block[(firstCell * RowBytes)..]);
        else
            Scatter(rows, block, firstCell);
    }

    /// <summary>
    /// Keeps only the first <paramref name="cellCount"/> cells (when a later chunk could not be loaded): moves every
    /// written row, in place, to where a blob of that many cells has it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not within [1, <see cref="CellCount"/>].</exception>
    public void Truncate(int cellCount)
    {
        if (cellCount < 1 || cellCount > CellCount)
            throw new ArgumentOutOfRangeException(nameof(cellCount), cellCount, $"Cell count must be within [1, {CellCount}].");
        if (cellCount == CellCount)
            return;
        // Every block moves to a lower offset, so moving them in increasing order (each copy overlap-safe) never
        // overwrites bytes not yet moved; each block's header lands below its old rows, on bytes already moved or
        // unused. The header and cells, shorter too, are rewritten last.
        Span<byte> buffer = _buffer;
        for (int block = 0; block < 2 * Layers; block++)
        {
            var kind = (SectionKind)(block / Layers);
            int layer = block % Layers;
            int from = BlockOffset(layer, kind, CellCount);
            int to = BlockOffset(layer, kind, cellCount);
            WriteLayerHeader(buffer, to - LayerHeaderSize, kind);
            if (kind == SectionKind.Keys || !ValuesTransposed)
            {
                buffer.Slice(from, cellCount * RowBytes).CopyTo(buffer[to..]);
                continue;
            }
            int columnBytes = cellCount * ElementSize;
            for (int d = 0; d < KvDim; d++)
                buffer.Slice(from + d * CellCount * ElementSize, columnBytes).CopyTo(buffer[(to + d * columnBytes)..]);
        }
        WriteCells(buffer, cellCount);
        CellCount = cellCount;
        Length = (int)ByteCount(Layers, KvDim, ElementType, cellCount);
    }

    // The layer's K or V block, after checking that `values` values from `firstCell` on are whole rows within the cells.
    private Span<byte> Block(int layer, SectionKind kind, int firstCell, int values)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Layers);
        if (values % KvDim != 0)
            throw new ArgumentOutOfRangeException(nameof(values), values, $"Rows are whole multiples of {KvDim} values.");
        int count = values / KvDim;
        if (firstCell < 0 || (long)firstCell + count > CellCount)
            throw new ArgumentOutOfRangeException(nameof(firstCell), firstCell, $"Cells [{firstCell}, {(long)firstCell + count}) run past the {CellCount} cells.");
        return _buffer.AsSpan(BlockOffset(layer, kind, CellCount), CellCount * RowBytes);
    }

    // Row r of `rows` (in the element type) goes to cell firstCell + r of every column of the transposed block.
    private void Scatter(ReadOnlySpan<byte> rows, Span<byte> block, int firstCell)
    {
        int count = rows.Length / RowBytes;
        if (ElementSize == 2)
            Scatter(MemoryMarshal.Cast<byte, ushort>(rows), MemoryMarshal.Cast<byte, ushort>(block), count, firstCell);
        else
            Scatter(MemoryMarshal.Cast<byte, uint>(rows), MemoryMarshal.Cast<byte, uint>(block), count, firstCell);
    }

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

    // Where a layer's K or V rows start in a blob of `cells` cells (after the layer's header).
    private int BlockOffset(int layer, SectionKind kind, int cells)
    {
        long metaEnd = HeaderSize + (long)cells * CellSize + 8;
        long layerBytes = LayerHeaderSize + (long)cells * RowBytes;
        return checked((int)(metaEnd + ((int)kind * (long)Layers + layer) * layerBytes + LayerHeaderSize));
    }

    private void WriteMetadata(Span<byte> o, int cells)
    {
        WriteCells(o, cells);
        for (int layer = 0; layer < Layers; layer++)
        {
            WriteLayerHeader(o, BlockOffset(layer, SectionKind.Keys, cells) - LayerHeaderSize, SectionKind.Keys);
            WriteLayerHeader(o, BlockOffset(layer, SectionKind.Values, cells) - LayerHeaderSize, SectionKind.Values);
        }
    }

    // The header, the cells at positions 0 … cells − 1, v_trans and the layer count.
    private void WriteCells(Span<byte> o, int cells)
    {
        WriteHeader(o, SequenceId, cells);
        int p = HeaderSize;
        for (int cell = 0; cell < cells; cell++, p += CellSize)
        {
            BinaryPrimitives.WriteInt32LittleEndian(o[p..], _positions?[cell] ?? cell);
            BinaryPrimitives.WriteUInt32LittleEndian(o[(p + 4)..], 1);
            BinaryPrimitives.WriteInt32LittleEndian(o[(p + 8)..], SequenceId);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(o[p..], ValuesTransposed ? 1u : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(o[(p + 4)..], (uint)Layers);
    }

    // Magic, sequence id, one stream, the cell count.
    private static void WriteHeader(Span<byte> o, int sequenceId, int cells)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(o, SequenceState.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(o[4..], sequenceId);
        BinaryPrimitives.WriteUInt32LittleEndian(o[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(o[12..], (uint)cells);
    }

    private void WriteLayerHeader(Span<byte> o, int offset, SectionKind kind)
    {
        int typeId = ElementType == KvElementType.Float32 ? SequenceState.GgmlTypeF32 : SequenceState.GgmlTypeF16;
        BinaryPrimitives.WriteInt32LittleEndian(o[offset..], typeId);
        if (kind == SectionKind.Values && ValuesTransposed)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(o[(offset + 4)..], (uint)ElementSize);
            BinaryPrimitives.WriteUInt32LittleEndian(o[(offset + 8)..], (uint)KvDim);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(o[(offset + 4)..], (ulong)RowBytes);
        }
    }
}
