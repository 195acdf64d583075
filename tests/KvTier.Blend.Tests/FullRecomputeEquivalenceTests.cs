using KvTier.Keys;
using KvTier.Reference;
using KvTier.Testing;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// The reference engine's blended prefill is the full prefill whenever nothing inexact is kept: with every reused
/// position recomputed at every layer, or with only exact prefix reuse and no recomputation, it yields the same logits
/// and the same K and V at every layer, bit for bit.
/// </summary>
public sealed class FullRecomputeEquivalenceTests
{
    private const string SystemPrompt = "Here are some stories.";

    [RequiresModelFact]
    public async Task A_chunk_at_its_own_position_recomputed_in_full_equals_the_prefill()
    {
        LlamaModel model = TestModel.Model;
        int[] prefix = model.Tokenizer.Encode(SystemPrompt, bos: true);
        int[] document = model.Tokenizer.Encode("Tom and his dog went to the park. They ran and played all day.", bos: false);
        int[] question = model.Tokenizer.Encode("Once upon a time", bos: false);
        int[] prompt = [.. prefix, .. document, .. question];
        int p = prefix.Length;

        await using var store = new BlendStore(new ChunkKeys(model.ModelId, model.Layout, "", chunkTokens: 16));
        LlamaSession writer = model.CreateSession();
        writer.Prefill([.. prefix, .. document]);
        ChunkKey prefixKey = ModelKv.StorePrefix(store.Store, store.Keys, writer.Cache, prefix);
        ModelKv.StoreSegments(store.Store, store.Keys, writer.Cache, document, p);

        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan(
        [
            BlendEntry.Prefix(prefixKey, p, 0),
            BlendEntry.SegmentTokens(document, p),
            BlendEntry.Compute(question.Length, p + document.Length),
        ]));
        Assert.Equal(document.Length, kv.ReusedTokens.Count);
        Assert.Equal(p, kv.ExactTokenCount);

        LlamaSession full = model.CreateSession();
        float[] expected = full.Prefill(prompt).ToArray();
        LlamaSession blended = model.CreateSession();
        var selector = new RecomputeSelector(kv, new RecomputeOptions { Share = 1 }, [prompt.Length - 1]);
        float[] actual = blended.PrefillBlended(prompt, kv, selector).ToArray();

        Bits.Equal(expected, actual, "logits");
        Assert.Equal(prompt.Length, blended.Cache.Length);
        ModelKv.AssertSameCache(full.Cache, blended.Cache, prompt.Length, "blended vs full");
        Assert.Equal(prompt.Length - p, blended.ForwardCount); // every position but the exact prefix went through the last layer
    }

    [RequiresModelFact]
    public async Task A_corpus_prompt_in_a_new_order_recomputed_in_full_equals_the_prefill()
    {
        LlamaModel model = TestModel.Model;
        RagCorpus corpus = RagCorpus.Generate(model, [.. RagCorpus.DefaultSeeds.Take(4)], documentTokens: 32);
        await using var store = new BlendStore(new ChunkKeys(model.ModelId, model.Layout, "", chunkTokens: 16));
        RagStore.StoreCorpus(model, store.Store, store.Keys, corpus);

        foreach (int[] order in new[] { new[] { 3, 1, 0, 2 }, new[] { 2, 2, 0 } })
        {
            int[] prompt = corpus.Prompt(order);
            BlendedKv kv = await store.Blender.BlendAsync(RagStore.Plan(store.Keys, corpus, order));
            Assert.Empty(kv.MissingEntries);
            Assert.Equal(corpus.Prefix.Count, kv.ExactTokenCount);

            LlamaSession full = model.CreateSession();
            float[] expected = full.Prefill(prompt).ToArray();
            LlamaSession blended = model.CreateSession();
            var selector = new RecomputeSelector(kv, new RecomputeOptions { Share = 1, CheckLayers = [1, 3] }, [prompt.Length - 1]);
            float[] actual = blended.PrefillBlended(prompt, kv, selector).ToArray();

            string what = $"order [{string.Join(", ", order)}]";
            Bits.Equal(expected, actual, $"{what}: logits");
            ModelKv.AssertSameCache(full.Cache, blended.Cache, prompt.Length, what);
        }
    }

    [RequiresModelFact]
    public async Task Reusing_only_the_exact_prefix_without_recomputation_equals_the_prefill()
    {
        LlamaModel model = TestModel.Model;
        int[] prefix = model.Tokenizer.Encode(SystemPrompt, bos: true);
        int[] rest = model.Tokenizer.Encode("Sam had a big box. He put his toys in it.", bos: false);
        int[] prompt = [.. prefix, .. rest];

        await using var store = new BlendStore(new ChunkKeys(model.ModelId, model.Layout, "", chunkTokens: 16));
        LlamaSession writer = model.CreateSession();
        writer.Prefill(prefix);
        ChunkKey prefixKey = ModelKv.StorePrefix(store.Store, store.Keys, writer.Cache, prefix);

        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Prefix(prefixKey, prefix.Length, 0), BlendEntry.Compute(rest.Length, prefix.Length)]));
        Assert.Equal(prefix.Length, kv.ExactTokenCount);
        Assert.Empty(kv.ReusedTokens);

        LlamaSession full = model.CreateSession();
        float[] expected = full.Prefill(prompt).ToArray();
        LlamaSession blended = model.CreateSession();
        float[] actual = blended.PrefillBlended(prompt, kv, selector: null).ToArray();

        Bits.Equal(expected, actual, "logits");
        ModelKv.AssertSameCache(full.Cache, blended.Cache, prompt.Length, "blended vs full");
        Assert.Equal(rest.Length, blended.ForwardCount);
    }
}
