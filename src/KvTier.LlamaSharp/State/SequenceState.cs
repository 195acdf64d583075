using System.Buffers.Binary;
using KvTier.Format;
using KvTier.Layout;

namespace KvTier.LlamaSharp.State;

// llama.cpp per-sequence state (llama_state_seq_get_data / llama_state_seq_set_data), as written by the llama.cpp that
// LLamaSharp 0.30.0 bundles (commit c0c7e147e7efa6c5858754b47259ba4880f8a906) for a unified KV cache of a model whose
// every layer has a cache (no recurrent or sliding-window parts, one position per token). Found empirically: a short
// prompt was decoded into stories260K.gguf and the saved state compared with the reference forward pass's K and V
// (tests/KvTier.LlamaSharp.Tests/SequenceStateLlamaTests). All integers little-endian.
//
//   offset  size                 field
//   ------  -------------------  -------------------------------------------------------------------------
//   0       u32                  magic 0xAF143CD8 (constant in every state this llama.cpp writes)
//   4       i32                  the sequence id the state was saved from
//   8       u32                  stream count: 1 for one sequence
//   12      u32                  cell count n (0: the blob ends here, 16 bytes in all)
//   16      n × 12               cells, in cache order: i32 position, u32 seq-id count (1), i32 seq id
//   16+12n  u32                  v_trans: 1 = V transposed (flash attention off), 0 = V row-major
//   +4      u32                  layer count L
//   then, for each layer l < L (K):
//           i32                  ggml type of K (0 = F32, 1 = F16)
//           u64                  bytes per K row = kv_dim × element size
//           n × row              K rows, one per cell in cell order: [cell][kv_dim]
//   then, for each layer l < L (V), when v_trans = 0:
//           i32, u64, n × row    as K: [cell][kv_dim]
//   or, when v_trans = 1:
//           i32                  ggml type of V
//           u32                  bytes per element
//           u32                  kv_dim
//           kv_dim × n × elem    V transposed: [kv_dim][cell]
//
// Nothing follows the last layer. A reader refuses anything else (other magic, several streams, a cell with other than
// one seq id, other types, widths or layer counts, missing or trailing bytes).

/// <summary>
/// The KV of one llama.cpp sequence: cell positions and, per layer, K and V rows in the cache's element type, held
/// row-major (<c>[cell][kvDim]</c>) whatever the blob's V orientation. <see cref="Parse"/> reads a blob from
/// <c>llama_state_seq_get_data</c>; <see cref="ToArray"/> writes one that <c>llama_state_seq_set_data</c> loads.
/// The byte layout is described above this class in its source file.
/// </summary>
/// <remarks>Not thread-safe: one thread fills or reads a state at a time.</remarks>
public sealed class SequenceState
{
    /// <summary>The first four bytes of every state blob (little-endian u32).</summary>
    public const uint Magic = 0xAF143CD8;

    /// <summary>Most cells a state may hold (a bound checked before anything is allocated).</summary>
    public const int MaxCells = 1 << 22;

    /// <summary>ggml's type id of F32.</summary>
    public const int GgmlTypeF32 = 0;

    /// <summary>ggml's type id of F16.</summary>
    public const int GgmlTypeF16 = 1;

    private const int HeaderSize = 16;
    private const int CellSize = 12;
    private const int LayerHeaderSize = 12;

    private readonly int[] _positions;
    private readonly byte[] _data; // [layer][K, V][cell][kvDim] in the element type

    /// <summary>Creates a zero-filled state of <paramref name="cellCount"/> cells at positions 0, 1, …, to fill and write.</summary>
    /// <param name="sequenceId">The sequence id written into the blob (llama.cpp loads it into whichever sequence it is given).</param>
    /// <param name="layers">Layers.</param>
    /// <param name="kvDim">KV heads × head dimension.</param>
    /// <param name="elementType">F32 or F16.</param>
    /// <param name="valuesTransposed">Whether the blob stores V transposed (true for a context without flash attention).</param>
    /// <param name="cellCount">0 to <see cref="MaxCells"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or the element type is out of range.</exception>
    public SequenceState(int sequenceId, int layers, int kvDim, KvElementType elementType, bool valuesTransposed, int cellCount)
    {
        new SequenceStateShape(layers, kvDim, elementType, valuesTransposed).Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(sequenceId);
        if (cellCount is < 0 or > MaxCells)
            throw new ArgumentOutOfRangeException(nameof(cellCount), cellCount, $"Cell count must be within [0, {MaxCells}].");
        long bytes = 2L * layers * cellCount * kvDim * (elementType == KvElementType.Float32 ? 4 : 2);
        if (bytes > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(cellCount), cellCount, $"{bytes} bytes of KV are more than one array holds.");
        SequenceId = sequenceId;
        Layers = layers;
        KvDim = kvDim;
        ElementType = elementType;
        ValuesTransposed = valuesTransposed;
        CellCount = cellCount;
        _positions = new int[cellCount];
        for (int i = 0; i < cellCount; i++)
            _positions[i] = i;
        _data = new byte[bytes];
    }

    /// <summary>The sequence id in the blob.</summary>
    public int SequenceId { get; }

    /// <summary>Layers.</summary>
    public int Layers { get; }

    /// <summary>KV width: KV heads × head dimension.</summary>
    public int KvDim { get; }

    /// <summary>The cache's element type (F32 or F16).</summary>
    public KvElementType ElementType { get; }

    /// <summary>Whether the blob stores V transposed (<c>[kvDim][cell]</c>); the rows here are row-major either way.</summary>
    public bool ValuesTransposed { get; }

    /// <summary>Cells (tokens) in the sequence.</summary>
    public int CellCount { get; }

    /// <summary>Bytes per element.</summary>
    public int ElementSize => ElementType == KvElementType.Float32 ? 4 : 2;

    /// <summary>Bytes of one K or V row: <see cref="KvDim"/> × <see cref="ElementSize"/>.</summary>
    public int RowBytes => KvDim * ElementSize;

    /// <summary>The position of each cell, in cache order (writable, to build a state).</summary>
    public Span<int> Positions => _positions;

    /// <summary>One layer's K rows, <c>[cell][kvDim]</c> in <see cref="ElementType"/>, little-endian (writable).</summary>
    public Span<byte> Keys(int layer) => Block(layer, 0);

    /// <summary>One layer's V rows, <c>[cell][kvDim]</c> in <see cref="ElementType"/>, little-endian (writable).</summary>
    public Span<byte> Values(int layer) => Block(layer, 1);

    /// <summary>
    /// The cell that holds each position <c>0 … count − 1</c>: <c>result[p]</c> is the cell of position p.
    /// </summary>
    /// <param name="count">How many leading positions must be present.</param>
    /// <exception cref="InvalidOperationException">A position below <paramref name="count"/> is missing or held twice.</exception>
    public int[] CellsOfPositions(int count)
    {
        if (count < 0 || count > CellCount)
            throw new InvalidOperationException($"The sequence holds {CellCount} cells; {count} positions were asked for.");
        var cells = new int[count];
        cells.AsSpan().Fill(-1);
        for (int cell = 0; cell < CellCount; cell++)
        {
            int p = _positions[cell];
            if ((uint)p >= (uint)count)
                continue;
            if (cells[p] >= 0)
                throw new InvalidOperationException($"Position {p} is held by cells {cells[p]} and {cell}.");
            cells[p] = cell;
        }
        int missing = Array.IndexOf(cells, -1);
        if (missing >= 0)
            throw new InvalidOperationException($"The sequence has no cell at position {missing}.");
        return cells;
    }

    /// <summary>The size of the blob <see cref="ToArray"/> writes.</summary>
    public long GetByteCount() => SequenceStateWriter.ByteCount(Layers, KvDim, ElementType, CellCount);

    /// <summary>Writes the blob that <c>llama_state_seq_set_data</c> loads (layout: see this file's header comment).</summary>
    /// <exception cref="InvalidOperationException">The blob would exceed one array.</exception>
    public byte[] ToArray()
    {
        long size = GetByteCount();
        if (size > Array.MaxLength)
            throw new InvalidOperationException($"A state of {size} bytes exceeds one array.");
        if (CellCount == 0)
            return SequenceStateWriter.EmptyBlob(SequenceId);
        var writer = new SequenceStateWriter(SequenceId, Layers, KvDim, ElementType, ValuesTransposed, CellCount, positions: _positions);
        for (int layer = 0; layer < Layers; layer++)
        {
            writer.WriteElementRows(layer, SectionKind.Keys, 0, Keys(layer));
            writer.WriteElementRows(layer, SectionKind.Values, 0, Values(layer));
        }
        return writer.Buffer;
    }

    /// <summary>
    /// Reads a blob from <c>llama_state_seq_get_data</c>, accepting only a state of <paramref name="expected"/>'s shape.
    /// Every length is checked against the blob before anything is allocated.
    /// </summary>
    /// <param name="blob">The bytes.</param>
    /// <param name="expected">The shape the context has.</param>
    /// <param name="maxCells">Most cells accepted (the context size); at most <see cref="MaxCells"/>.</param>
    /// <exception cref="LlamaStateFormatException">The blob is malformed, truncated, oversized or of another shape or type.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expected"/> or <paramref name="maxCells"/> is out of range.</exception>
    public static SequenceState Parse(ReadOnlySpan<byte> blob, SequenceStateShape expected, int maxCells = MaxCells)
    {
        ArgumentNullException.ThrowIfNull(expected);
        expected.Validate();
        if (maxCells is < 0 or > MaxCells)
            throw new ArgumentOutOfRangeException(nameof(maxCells), maxCells, $"Must be within [0, {MaxCells}].");
        if (blob.Length < HeaderSize)
            throw Bad($"The blob has {blob.Length} bytes; a state has at least {HeaderSize} (truncated).", blob.Length);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (magic != Magic)
            throw Bad($"Magic 0x{magic:X8} is not 0x{Magic:X8}: not a sequence state of the supported llama.cpp version.", 0);
        int sequenceId = BinaryPrimitives.ReadInt32LittleEndian(blob[4..]);
        if (sequenceId < 0)
            throw Bad($"Sequence id {sequenceId} is negative: not a single-sequence state.", 4);
        uint streams = BinaryPrimitives.ReadUInt32LittleEndian(blob[8..]);
        if (streams != 1)
            throw Bad($"The state has {streams} streams; a single-sequence state has 1.", 8);
        uint cells = BinaryPrimitives.ReadUInt32LittleEndian(blob[12..]);
        if (cells > (uint)maxCells)
            throw Bad($"Cell count {cells} exceeds the limit of {maxCells}.", 12);
        int n = (int)cells;
        bool transposed = expected.ValuesTransposed ?? false;
        if (n == 0)
        {
            if (blob.Length != HeaderSize)
                throw Bad($"An empty state has {HeaderSize} bytes; this one has {blob.Length} (trailing bytes).", HeaderSize);
            return new SequenceState(sequenceId, expected.Layers, expected.KvDim, expected.ElementType, transposed, 0);
        }

        long metaEnd = HeaderSize + (long)n * CellSize + 8;
        if (blob.Length < metaEnd)
            throw Bad($"{n} cells need {metaEnd} bytes up to the layer count; the blob has {blob.Length} (truncated).", blob.Length);
        int p = HeaderSize;
        for (int cell = 0; cell < n; cell++, p += CellSize)
        {
            int position = BinaryPrimitives.ReadInt32LittleEndian(blob[p..]);
            uint ids = BinaryPrimitives.ReadUInt32LittleEndian(blob[(p + 4)..]);
            if (position < 0)
                throw Bad($"Cell {cell} has negative position {position}.", p);
            if (ids != 1)
                throw Bad($"Cell {cell} has {ids} sequence ids; a single-sequence state has 1.", p + 4);
            int id = BinaryPrimitives.ReadInt32LittleEndian(blob[(p + 8)..]);
            if (id != sequenceId)
                throw Bad($"Cell {cell} belongs to sequence {id}, not {sequenceId}.", p + 8);
        }
        uint vTrans = BinaryPrimitives.ReadUInt32LittleEndian(blob[p..]);
        if (vTrans > 1)
            throw Bad($"v_trans is {vTrans}; it must be 0 or 1.", p);
        transposed = vTrans == 1;
        if (expected.ValuesTransposed is { } want && want != transposed)
            throw Bad($"V is stored {(transposed ? "transposed" : "row-major")}; the context stores it {(want ? "transposed" : "row-major")} (flash attention differs).", p);
        uint layers = BinaryPrimitives.ReadUInt32LittleEndian(blob[(p + 4)..]);
        if (layers != (uint)expected.Layers)
            throw Bad($"The state has {layers} layers; the model has {expected.Layers}.", p + 4);
        p += 8;

        // The first layer's type before the length: a blob of another cache type is named as such, not as truncated.
        if (blob.Length >= p + 4)
            CheckType(blob, p, expected, "K", 0);
        int elementSize = expected.ElementSize;
        long rowBytes = (long)expected.KvDim * elementSize;
        long expectedLength = metaEnd + 2L * expected.Layers * (LayerHeaderSize + n * rowBytes);
        if (blob.Length < expectedLength)
            throw Bad($"{n} cells of {expected.Layers} layers × {rowBytes}-byte rows need {expectedLength} bytes; the blob has {blob.Length} (truncated, or another type or width).", blob.Length);
        if (blob.Length > expectedLength)
            throw Bad($"{n} cells of {expected.Layers} layers × {rowBytes}-byte rows need {expectedLength} bytes; the blob has {blob.Length} (trailing bytes, or another type or width).", expectedLength);

        var state = new SequenceState(sequenceId, expected.Layers, expected.KvDim, expected.ElementType, transposed, n);
        p = HeaderSize;
        for (int cell = 0; cell < n; cell++, p += CellSize)
            state._positions[cell] = BinaryPrimitives.ReadInt32LittleEndian(blob[p..]);
        p += 8;
        int rows = (int)(n * rowBytes);
        for (int layer = 0; layer < expected.Layers; layer++)
        {
            CheckType(blob, p, expected, "K", layer);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(blob[(p + 4)..]);
            if (size != (ulong)rowBytes)
                throw Bad($"Layer {layer} K rows have {size} bytes; the context's have {rowBytes} ({expected.KvDim} × {elementSize}).", p + 4);
            p += LayerHeaderSize;
            blob.Slice(p, rows).CopyTo(state.Keys(layer));
            p += rows;
        }
        for (int layer = 0; layer < expected.Layers; layer++)
        {
            CheckType(blob, p, expected, "V", layer);
            if (transposed)
            {
                uint size = BinaryPrimitives.ReadUInt32LittleEndian(blob[(p + 4)..]);
                uint width = BinaryPrimitives.ReadUInt32LittleEndian(blob[(p + 8)..]);
                if (size != (uint)elementSize)
                    throw Bad($"Layer {layer} V elements have {size} bytes; the context's have {elementSize}.", p + 4);
                if (width != (uint)expected.KvDim)
                    throw Bad($"Layer {layer} V is {width} wide; the context's KV width is {expected.KvDim}.", p + 8);
                p += LayerHeaderSize;
                Transpose(blob.Slice(p, rows), state.Values(layer), expected.KvDim, n, elementSize);
            }
            else
            {
                ulong size = BinaryPrimitives.ReadUInt64LittleEndian(blob[(p + 4)..]);
                if (size != (ulong)rowBytes)
                    throw Bad($"Layer {layer} V rows have {size} bytes; the context's have {rowBytes}.", p + 4);
                p += LayerHeaderSize;
                blob.Slice(p, rows).CopyTo(state.Values(layer));
            }
            p += rows;
        }
        return state;
    }

    private Span<byte> Block(int layer, int kind)
    {
        if ((uint)layer >= (uint)Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {Layers}).");
        int length = CellCount * RowBytes;
        return _data.AsSpan((2 * layer + kind) * length, length);
    }

    private static void CheckType(ReadOnlySpan<byte> blob, int p, SequenceStateShape expected, string kind, int layer)
    {
        int type = BinaryPrimitives.ReadInt32LittleEndian(blob[p..]);
        if (type is not (GgmlTypeF32 or GgmlTypeF16))
            throw Bad($"Layer {layer} {kind} has ggml type {type}; only F32 ({GgmlTypeF32}) and F16 ({GgmlTypeF16}) are supported.", p);
        int want = expected.ElementType == KvElementType.Float32 ? GgmlTypeF32 : GgmlTypeF16;
        if (type != want)
            throw Bad($"Layer {layer} {kind} has ggml type {type}; the context's cache type is {want}.", p);
    }

    // Transposes a [rows][cols] matrix of `size`-byte elements into [cols][rows] (the reader's V; the writer's is
    // SequenceStateWriter's).
    private static void Transpose(ReadOnlySpan<byte> source, Span<byte> destination, int rows, int cols, int size)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
                source.Slice((r * cols + c) * size, size).CopyTo(destination.Slice((c * rows + r) * size, size));
        }
    }

    private static LlamaStateFormatException Bad(string message, long offset) => new(message, offset);
}
