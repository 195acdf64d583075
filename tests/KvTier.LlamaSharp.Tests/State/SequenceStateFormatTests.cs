using System.Buffers.Binary;
using KvTier.Layout;
using KvTier.LlamaSharp.State;
using Xunit;

namespace KvTier.LlamaSharp.Tests.State;

/// <summary>The parser and writer on synthetic states: exact round trips, and a typed error for every malformed blob.</summary>
public sealed class SequenceStateFormatTests
{
    private const int Layers = 3, KvDim = 4, Cells = 5;

    private static SequenceState Sample(KvElementType type, bool transposed, int cells = Cells, int sequenceId = 2)
    {
        var state = new SequenceState(sequenceId, Layers, KvDim, type, transposed, cells);
        var random = new Random(42);
        for (int layer = 0; layer < Layers; layer++)
        {
            random.NextBytes(state.Keys(layer));
            random.NextBytes(state.Values(layer));
        }
        for (int i = 0; i < cells; i++)
            state.Positions[i] = cells - 1 - i; // cells out of position order, as a fragmented cache holds them
        return state;
    }

    private static SequenceStateShape Shape(KvElementType type, bool? transposed = null) => new(Layers, KvDim, type, transposed);

    [Theory]
    [InlineData(KvElementType.Float32, true)]
    [InlineData(KvElementType.Float32, false)]
    [InlineData(KvElementType.Float16, true)]
    [InlineData(KvElementType.Float16, false)]
    public void Writer_then_parser_round_trips_exactly(KvElementType type, bool transposed)
    {
        SequenceState state = Sample(type, transposed);
        byte[] blob = state.ToArray();
        Assert.Equal(state.GetByteCount(), blob.Length);
        SequenceState parsed = SequenceState.Parse(blob, Shape(type, transposed));
        Assert.Equal(state.SequenceId, parsed.SequenceId);
        Assert.Equal(transposed, parsed.ValuesTransposed);
        Assert.Equal(state.Positions.ToArray(), parsed.Positions.ToArray());
        for (int layer = 0; layer < Layers; layer++)
        {
            Assert.Equal(state.Keys(layer).ToArray(), parsed.Keys(layer).ToArray());
            Assert.Equal(state.Values(layer).ToArray(), parsed.Values(layer).ToArray());
        }
        Assert.Equal(blob, parsed.ToArray());
        Assert.Equal([4, 3, 2, 1, 0], parsed.CellsOfPositions(Cells));
    }

    [Fact]
    public void Transposed_values_are_stored_dimension_major()
    {
        SequenceState state = Sample(KvElementType.Float32, transposed: true);
        byte[] blob = state.ToArray();
        // V of layer 0 starts after the header, the cells, v_trans and layer count, the K layers, and its 12-byte header.
        int v0 = 16 + Cells * 12 + 8 + Layers * (12 + Cells * KvDim * 4) + 12;
        for (int cell = 0; cell < Cells; cell++)
        {
            for (int c = 0; c < KvDim; c++)
                Assert.Equal(state.Values(0).Slice((cell * KvDim + c) * 4, 4).ToArray(), blob.AsSpan(v0 + (c * Cells + cell) * 4, 4).ToArray());
        }
    }

    [Fact]
    public void Empty_state_round_trips()
    {
        var empty = new SequenceState(0, Layers, KvDim, KvElementType.Float32, true, 0);
        byte[] blob = empty.ToArray();
        Assert.Equal(16, blob.Length);
        Assert.Equal(0, SequenceState.Parse(blob, Shape(KvElementType.Float32)).CellCount);
    }

    [Fact]
    public void Every_truncation_is_a_typed_error()
    {
        byte[] blob = Sample(KvElementType.Float16, true).ToArray();
        for (int length = 0; length < blob.Length; length++)
        {
            if (length == 16)
                continue; // 16 bytes with a cell count of 5 is "truncated" too, but checked below by message
            var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob.AsSpan(0, length), Shape(KvElementType.Float16)));
            Assert.Equal(LlamaStateFormatException.SourceDescription, ex.SourceName);
        }
        Assert.Contains("truncated", Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob.AsSpan(0, 16), Shape(KvElementType.Float16))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trailing_bytes_are_refused()
    {
        byte[] blob = [.. Sample(KvElementType.Float32, false).ToArray(), 0];
        var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, Shape(KvElementType.Float32)));
        Assert.Contains("trailing", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2)]  // Q4_0
    [InlineData(30)] // BF16
    [InlineData(-1)]
    public void Unsupported_type_id_is_refused(int typeId)
    {
        byte[] blob = Sample(KvElementType.Float32, true).ToArray();
        int firstLayer = 16 + Cells * 12 + 8;
        BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(firstLayer), typeId);
        var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, Shape(KvElementType.Float32)));
        Assert.Contains($"ggml type {typeId}", ex.Message, StringComparison.Ordinal);
        Assert.Equal(firstLayer, ex.Offset);
    }

    [Fact]
    public void Type_of_a_later_layer_is_checked_too()
    {
        byte[] blob = Sample(KvElementType.Float32, true).ToArray();
        int lastV = blob.Length - (12 + Cells * KvDim * 4);
        BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(lastV), 1);
        var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, Shape(KvElementType.Float32)));
        Assert.Contains("Layer 2 V", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_layer_count_is_refused()
    {
        byte[] blob = Sample(KvElementType.Float32, true).ToArray();
        var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, new SequenceStateShape(Layers + 1, KvDim, KvElementType.Float32, null)));
        Assert.Contains($"{Layers} layers", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_width_is_refused()
    {
        byte[] blob = Sample(KvElementType.Float32, true).ToArray();
        Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, new SequenceStateShape(Layers, KvDim * 2, KvElementType.Float32, null)));
        Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, new SequenceStateShape(Layers, KvDim / 2, KvElementType.Float32, null)));
    }

    [Fact]
    public void Other_value_orientation_is_refused_when_the_shape_names_one()
    {
        byte[] blob = Sample(KvElementType.Float32, true).ToArray();
        var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, Shape(KvElementType.Float32, transposed: false)));
        Assert.Contains("flash attention", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(12, uint.MaxValue)]       // absurd cell count
    [InlineData(12, 1u << 21)]            // plausible count, missing bytes
    [InlineData(8, 2u)]                   // several streams
    [InlineData(0, 0x12345678u)]          // magic
    [InlineData(4, 0xFFFFFFFFu)]          // negative sequence id
    [InlineData(20, 2u)]                  // a cell with two sequence ids
    [InlineData(24, 7u)]                  // a cell of another sequence
    [InlineData(16, 0x80000000u)]         // negative position
    [InlineData(16 + Cells * 12, 2u)]     // v_trans neither 0 nor 1
    [InlineData(16 + Cells * 12 + 4, 1u << 30)] // absurd layer count
    [InlineData(16 + Cells * 12 + 12, 1u << 31)] // absurd K row size
    public void Malformed_fields_are_typed_errors(int offset, uint value)
    {
        byte[] blob = Sample(KvElementType.Float32, true).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(offset), value);
        var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, Shape(KvElementType.Float32)));
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public void Cell_count_over_the_context_is_refused_before_allocating()
    {
        byte[] blob = Sample(KvElementType.Float32, true).ToArray();
        var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, Shape(KvElementType.Float32), maxCells: Cells - 1));
        Assert.Contains("exceeds the limit", ex.Message, StringComparison.Ordinal);
        Assert.Equal(12, ex.Offset);
    }

    [Fact]
    public void Random_mutations_fail_only_with_the_typed_error()
    {
        byte[] valid = Sample(KvElementType.Float16, false).ToArray();
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            byte[] blob = (byte[])valid.Clone();
            int flips = 1 + random.Next(3);
            for (int f = 0; f < flips; f++)
                blob[random.Next(Math.Min(blob.Length, 16 + Cells * 12 + 24))] ^= (byte)(1 << random.Next(8));
            int length = random.Next(4) == 0 ? random.Next(blob.Length + 1) : blob.Length;
            try
            {
                SequenceState.Parse(blob.AsSpan(0, length), Shape(KvElementType.Float16));
            }
            catch (LlamaStateFormatException)
            {
            }
        }
    }

    [Fact]
    public void Missing_position_is_reported()
    {
        SequenceState state = Sample(KvElementType.Float32, true);
        state.Positions[0] = 9;
        Assert.Throws<InvalidOperationException>(() => state.CellsOfPositions(Cells));
        state.Positions[0] = 3;
        Assert.Throws<InvalidOperationException>(() => state.CellsOfPositions(Cells));
    }
}
