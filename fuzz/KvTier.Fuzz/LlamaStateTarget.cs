using KvTier.Layout;
using KvTier.LlamaSharp.State;

namespace KvTier.Fuzz;

/// <summary>
/// Fuzzes <see cref="SequenceState.Parse"/> (llama.cpp's per-sequence state, src/KvTier.LlamaSharp/State/SequenceState.cs).
/// Input: one byte choosing the expected shape (bit 0: F16 instead of F32; bits 1–2: V orientation any, transposed or
/// row-major), then the blob, parsed against 2 layers × 4 wide with at most 64 cells. An accepted blob must be written
/// back byte for byte (the layout has no free bits).
/// </summary>
internal static class LlamaStateTarget
{
    public static readonly FuzzTarget Target = new(Run, Seeds);

    private const int Layers = 2, KvDim = 4, MaxCells = 64;

    private static void Run(byte[] input)
    {
        if (input.Length < 1)
            return;
        SequenceStateShape shape = ShapeOf(input[0]);
        SequenceState state;
        try
        {
            state = SequenceState.Parse(input.AsSpan(1), shape, MaxCells);
        }
        catch (KvTierFormatException)
        {
            return; // the expected outcome for bad input
        }
        byte[] written = state.ToArray();
        if (!written.AsSpan().SequenceEqual(input.AsSpan(1)))
            throw new InvalidOperationException($"An accepted {input.Length - 1}-byte state was written back as {written.Length} different bytes.");
    }

    private static SequenceStateShape ShapeOf(byte selector) =>
        new(Layers, KvDim, (selector & 1) == 0 ? KvElementType.Float32 : KvElementType.Float16, ((selector >> 1) & 3) switch
        {
            1 => true,
            2 => false,
            _ => null,
        });

    private static IEnumerable<(string, byte[])> Seeds()
    {
        foreach ((string name, byte selector, int cells) in new[] { ("f32-transposed", (byte)2, 3), ("f16-rows", (byte)5, 2), ("empty", (byte)0, 0) })
        {
            SequenceStateShape shape = ShapeOf(selector);
            var state = new SequenceState(0, Layers, KvDim, shape.ElementType, shape.ValuesTransposed ?? true, cells);
            for (int layer = 0; layer < Layers; layer++)
            {
                Span<byte> k = state.Keys(layer), v = state.Values(layer);
                for (int i = 0; i < k.Length; i++)
                {
                    k[i] = (byte)(i * 7 + layer);
                    v[i] = (byte)(i * 13 + layer);
                }
            }
            yield return (name, [selector, .. state.ToArray()]);
        }
    }
}
