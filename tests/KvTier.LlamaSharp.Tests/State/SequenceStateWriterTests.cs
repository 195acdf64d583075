using KvTier.Format;
using KvTier.Format.Elements;
using KvTier.Layout;
using KvTier.LlamaSharp.State;
using Xunit;

namespace KvTier.LlamaSharp.Tests.State;

/// <summary>
/// <see cref="SequenceStateWriter"/> writes, window by window and in place, exactly the blob <see cref="SequenceState.ToArray"/>
/// writes for the same rows, and a truncated writer exactly the blob of the leading cells.
/// </summary>
public sealed class SequenceStateWriterTests
{
    private const int Layers = 3;
    private const int KvDim = 12;

    public static TheoryData<KvElementType, bool> Shapes => new()
    {
        { KvElementType.Float32, false }, { KvElementType.Float32, true }, { KvElementType.Float16, false }, { KvElementType.Float16, true },
    };

    // Rows [layer][kind][cell][kvDim] of distinct values.
    private static float[][][] Rows(int cells, int seed)
    {
        var random = new Random(seed);
        var rows = new float[Layers][][];
        for (int layer = 0; layer < Layers; layer++)
        {
            rows[layer] = new float[2][];
            for (int kind = 0; kind < 2; kind++)
            {
                rows[layer][kind] = new float[cells * KvDim];
                for (int i = 0; i < rows[layer][kind].Length; i++)
                    rows[layer][kind][i] = (float)(random.NextDouble() * 8 - 4);
            }
        }
        return rows;
    }

    private static byte[] Expected(float[][][] rows, int cells, KvElementType type, bool transposed)
    {
        var state = new SequenceState(3, Layers, KvDim, type, transposed, cells);
        for (int layer = 0; layer < Layers; layer++)
        {
            ElementConversion.FromSingle(type, rows[layer][0].AsSpan(0, cells * KvDim), state.Keys(layer));
            ElementConversion.FromSingle(type, rows[layer][1].AsSpan(0, cells * KvDim), state.Values(layer));
        }
        return state.ToArray();
    }

    private static void Write(SequenceStateWriter writer, float[][][] rows, int firstCell, int cells)
    {
        for (int layer = 0; layer < Layers; layer++)
        {
            writer.WriteRows(layer, SectionKind.Keys, firstCell, rows[layer][0].AsSpan(firstCell * KvDim, cells * KvDim));
            writer.WriteRows(layer, SectionKind.Values, firstCell, rows[layer][1].AsSpan(firstCell * KvDim, cells * KvDim));
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Rows_written_in_windows_give_the_blob_a_built_state_writes(KvElementType type, bool transposed)
    {
        const int cells = 137; // more than one 64-row transpose block, and windows that straddle them
        float[][][] rows = Rows(cells, seed: 5);
        // A reused buffer, larger than the blob and holding an earlier load's bytes: every byte of the blob is rewritten.
        byte[] buffer = new byte[SequenceStateWriter.ByteCount(Layers, KvDim, type, cells) + 100];
        Array.Fill(buffer, (byte)0xA5);
        var writer = new SequenceStateWriter(3, Layers, KvDim, type, transposed, cells, buffer);
        Assert.Same(buffer, writer.Buffer);
        // Windows in a shuffled order: a window's place does not depend on what was written before it.
        (int First, int Cells)[] windows = [(70, 67), (0, 5), (5, 65)];
        foreach ((int first, int count) in windows)
            Write(writer, rows, first, count);

        Assert.Equal(Expected(rows, cells, type, transposed), writer.Blob.ToArray());
        SequenceState parsed = SequenceState.Parse(writer.Blob, new SequenceStateShape(Layers, KvDim, type, transposed));
        Assert.Equal(cells, parsed.CellCount);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void A_truncated_writer_gives_the_blob_of_its_leading_cells(KvElementType type, bool transposed)
    {
        float[][][] rows = Rows(100, seed: 9);
        var writer = new SequenceStateWriter(3, Layers, KvDim, type, transposed, 100);
        Write(writer, rows, 0, 48); // the chunks after cell 48 never arrived

        writer.Truncate(48);

        Assert.Equal(48, writer.CellCount);
        Assert.Equal(Expected(rows, 48, type, transposed), writer.Blob.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Truncate(49));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Truncate(0));
    }

    [Fact]
    public void Rows_outside_the_cells_or_not_whole_are_refused()
    {
        var writer = new SequenceStateWriter(0, Layers, KvDim, KvElementType.Float16, valuesTransposed: true, cellCount: 10);
        byte[] before = writer.Blob.ToArray();

        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteRows(0, SectionKind.Keys, 9, new float[2 * KvDim]));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteRows(0, SectionKind.Values, -1, new float[KvDim]));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteRows(0, SectionKind.Keys, 0, new float[KvDim + 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteRows(Layers, SectionKind.Keys, 0, new float[KvDim]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceStateWriter(0, Layers, KvDim, KvElementType.Float16, true, 0));
        Assert.Equal(before, writer.Blob.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceStateWriter(0, Layers, KvDim, KvElementType.Float16, true, 10, new byte[before.Length - 1]));
    }
}
