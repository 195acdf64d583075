using KvTier.Keys;
using KvTier.Reference;
using KvTier.Testing;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// The reference engine computing each layer as soon as the blend has assembled it (PrefillBlendedAsync) gets exactly
/// what it gets from the finished blend: the same logits and the same K and V, bit for bit.
/// </summary>
public sealed class StreamedBlendTests
{
    [RequiresModelTheory]
    [InlineData(0.15)]
    [InlineData(1.0)]
    [InlineData(null)]
    public async Task Streaming_the_blend_layer_by_layer_gives_the_same_result_as_the_finished_blend(double? share)
    {
        LlamaModel model = TestModel.Model;
        RagCorpus corpus = RagCorpus.Generate(model, [.. RagCorpus.DefaultSeeds.Take(3)], documentTokens: 24);
        await using var store = new BlendStore(new ChunkKeys(model.ModelId, model.Layout, "", chunkTokens: 16));
        RagStore.StoreCorpus(model, store.Store, store.Keys, corpus);
        int[] order = [2, 0, 1];
        int[] prompt = corpus.Prompt(order);
        RecomputeOptions? options = share is { } s ? new RecomputeOptions { Share = s } : null;

        BlendedKv finished = await store.Blender.BlendAsync(RagStore.Plan(store.Keys, corpus, order));
        LlamaSession whole = model.CreateSession();
        float[] expected = whole.PrefillBlended(prompt, finished, options is null ? null : new RecomputeSelector(finished, options, [prompt.Length - 1])).ToArray();

        LlamaSession streamed = model.CreateSession();
        float[] actual;
        await using (BlendRequest request = store.Blender.Start(RagStore.Plan(store.Keys, corpus, order)))
            actual = await streamed.PrefillBlendedAsync(prompt, request, kv => options is null ? null : new RecomputeSelector(kv, options, [prompt.Length - 1]));

        Bits.Equal(expected, actual, "logits");
        ModelKv.AssertSameCache(whole.Cache, streamed.Cache, prompt.Length, "streamed vs finished blend");
        Assert.Equal(whole.Work, streamed.Work);
    }

    [RequiresModelFact]
    public async Task A_failed_blend_fails_the_streamed_prefill_with_its_error()
    {
        LlamaModel model = TestModel.Model;
        RagCorpus corpus = RagCorpus.Generate(model, [.. RagCorpus.DefaultSeeds.Take(2)], documentTokens: 16);
        var keys = new ChunkKeys(model.ModelId, model.Layout, "", chunkTokens: 16);
        await using var store = new BlendStore(keys);
        RagStore.StoreCorpus(model, store.Store, store.Keys, corpus);
        int[] prompt = corpus.Prompt([1, 0]);
        // The system prompt's prefix record placed one position later: exact KV cannot move.
        var plan = new BlendPlan(
        [
            BlendEntry.Compute(1, 0),
            BlendEntry.Prefix(keys.PrefixKeys([.. corpus.Prefix])[0], corpus.Prefix.Count, 1),
            BlendEntry.Compute(prompt.Length - 1 - corpus.Prefix.Count, 1 + corpus.Prefix.Count),
        ]);

        LlamaSession session = model.CreateSession();
        await using BlendRequest request = store.Blender.Start(plan);
        BlendException e = await Assert.ThrowsAsync<BlendException>(() => session.PrefillBlendedAsync(prompt, request, _ => null));
        Assert.Equal(BlendErrorKind.PrefixMoved, e.Kind);
    }
}
