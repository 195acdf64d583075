using KvTier.Layout;
using KvTier.LlamaSharp.State;
using KvTier.Reference;
using KvTier.Testing;
using LLama;
using LLama.Native;
using Xunit;

namespace KvTier.LlamaSharp.Tests.State;

/// <summary>The state layout checked against the real engine: llama.cpp's K and V, read through the parser, are the reference model's.</summary>
public sealed class SequenceStateLlamaTests
{
    private static readonly int[] Prompt = LlamaEngine.ReferenceTokens[..24];

    [RequiresModelFact]
    public void Layout_derived_from_the_gguf_is_the_reference_models()
    {
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
        KvLayout layout = LlamaKvLayout.FromContext(context);
        Assert.Equal(TestModel.Model.Layout, layout);
        Assert.Equal(RopePairing.AdjacentPairs, layout.Rope.Pairing);
        Assert.Equal(10000, layout.Rope.Theta);
        Assert.True(layout.KeysStoredAfterRope);
    }

    [RequiresModelTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Llama_cpp_kv_read_through_the_parser_equals_the_reference_models(bool flashAttention)
    {
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32, flashAttention);
        var sequence = (LLamaSeqId)1;
        LlamaEngine.Evaluate(context, Prompt, 0, sequence);
        byte[] blob = LlamaEngine.SaveState(context, sequence);

        KvLayout layout = LlamaKvLayout.FromContext(context);
        SequenceState state = SequenceState.Parse(blob, SequenceStateShape.For(layout, valuesTransposed: !flashAttention), (int)context.ContextSize);
        Assert.Equal(Prompt.Length, state.CellCount);
        Assert.Equal(1, state.SequenceId);
        Assert.Equal(!flashAttention, state.ValuesTransposed);
        int[] cells = state.CellsOfPositions(Prompt.Length);

        LlamaSession session = TestModel.NewSession();
        session.Prefill(Prompt);
        var worst = new double[layout.Layers];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            worst[layer] = Math.Max(
                MaxDifference(state.Keys(layer), session.Cache.Keys(layer), cells, layout.KvDim),
                MaxDifference(state.Values(layer), session.Cache.Values(layer), cells, layout.KvDim));
        }
        string report = $"largest |llama.cpp − reference| per layer: {string.Join(", ", worst)}";
        if (!flashAttention)
        {
            Assert.True(worst.Max() < 1e-4, report);
        }
        else
        {
            // llama.cpp's CPU flash-attention kernel rounds through F16, so layers after the first drift by ~1e-2 even with
            // an F32 cache; layer 0's K and V come straight from the embeddings and still match, which pins the layout.
            Assert.True(worst[0] < 1e-4, report);
            Assert.True(worst.Max() < 5e-2, report);
        }
    }

    [RequiresModelTheory]
    [InlineData(GGMLType.GGML_TYPE_F32, false)]
    [InlineData(GGMLType.GGML_TYPE_F16, false)]
    [InlineData(GGMLType.GGML_TYPE_F32, true)]
    public void Writer_reproduces_llama_cpp_blobs_byte_for_byte_and_llama_cpp_loads_them(GGMLType type, bool flashAttention)
    {
        using LLamaContext context = LlamaEngine.CreateContext(type, flashAttention);
        LlamaEngine.Evaluate(context, Prompt, 0, LLamaSeqId.Zero);
        byte[] blob = LlamaEngine.SaveState(context, LLamaSeqId.Zero);
        KvLayout layout = LlamaKvLayout.FromContext(context);
        SequenceState state = SequenceState.Parse(blob, SequenceStateShape.For(layout, null));
        Assert.Equal(blob, state.ToArray());

        // Rebuilt for another sequence, llama.cpp loads it and continues as the original does.
        var copy = new SequenceState(1, state.Layers, state.KvDim, state.ElementType, state.ValuesTransposed, state.CellCount);
        state.Positions.CopyTo(copy.Positions);
        for (int layer = 0; layer < state.Layers; layer++)
        {
            state.Keys(layer).CopyTo(copy.Keys(layer));
            state.Values(layer).CopyTo(copy.Values(layer));
        }
        byte[] rebuilt = copy.ToArray();
        Assert.Equal((ulong)rebuilt.Length, LlamaEngine.LoadState(context, rebuilt, (LLamaSeqId)1));
        float[] original = LlamaEngine.Evaluate(context, [LlamaEngine.ReferenceTokens[Prompt.Length]], Prompt.Length, LLamaSeqId.Zero);
        float[] loaded = LlamaEngine.Evaluate(context, [LlamaEngine.ReferenceTokens[Prompt.Length]], Prompt.Length, (LLamaSeqId)1);
        // Another sequence attends over other cells of the shared cache, so the sums run in another order: equal to
        // rounding, not bit for bit.
        Assert.Equal(GreedySampler.Argmax(original), GreedySampler.Argmax(loaded));
        for (int i = 0; i < original.Length; i++)
            Assert.True(Math.Abs(original[i] - loaded[i]) < 1e-4, $"logit {i}: {original[i]} vs {loaded[i]}");
    }

    [RequiresModelFact]
    public void Blob_of_another_cache_type_is_refused()
    {
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
        LlamaEngine.Evaluate(context, Prompt, 0, LLamaSeqId.Zero);
        byte[] blob = LlamaEngine.SaveState(context, LLamaSeqId.Zero);
        var f32 = new SequenceStateShape(5, 32, KvElementType.Float32, null);
        var ex = Assert.Throws<LlamaStateFormatException>(() => SequenceState.Parse(blob, f32));
        Assert.Contains("ggml type", ex.Message, StringComparison.Ordinal);
    }

    private static double MaxDifference(ReadOnlySpan<byte> engine, ReadOnlySpan<float> reference, int[] cells, int kvDim)
    {
        double worst = 0;
        for (int position = 0; position < cells.Length; position++)
        {
            for (int c = 0; c < kvDim; c++)
            {
                float value = BitConverter.ToSingle(engine.Slice((cells[position] * kvDim + c) * 4, 4));
                worst = Math.Max(worst, Math.Abs(value - reference[position * kvDim + c]));
            }
        }
        return worst;
    }
}
