using KvTier.Keys;
using KvTier.Reference;
using KvTier.Testing;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// <see cref="LlamaSession.Work"/> counts what its documentation says — per position t and layer, the Q, K, V and output
/// projections, attention over the t + 1 positions attended, and the three feed-forward matrices — so that the work a
/// blend saves is measured in the same units as a prefill's.
/// </summary>
public sealed class PrefillWorkTests
{
    /// <summary>The documented count for positions <c>[from, to)</c> of a prompt, all layers.</summary>
    private static long DocumentedWork(LlamaConfig c, int from, int to)
    {
        long total = 0;
        for (int t = from; t < to; t++)
        {
            long q = (long)c.Dim * c.Dim;                          // Q projection
            long kv = 2L * c.KvDim * c.Dim;                        // K and V projections
            long attention = 2L * c.Heads * c.HeadSize * (t + 1); // scores and weighted sum over positions 0..t
            long output = (long)c.Dim * c.Dim;                     // output projection
            long feedForward = 3L * c.Dim * c.HiddenDim;           // w1, w3 and w2
            total += c.Layers * (q + kv + attention + output + feedForward);
        }

        return total;
    }

    [RequiresModelTheory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(120)]
    public void A_full_prefill_does_the_documented_work(int n)
    {
        LlamaModel model = TestModel.Model;
        int[] tokens = [.. Enumerable.Range(0, n).Select(i => 3 + i * 7 % (model.Config.VocabSize - 3))];
        LlamaSession session = model.CreateSession();
        session.Prefill(tokens);
        Assert.Equal(DocumentedWork(model.Config, 0, n), session.Work);

        // Continuing counts only the new positions, each attending over everything before it.
        long before = session.Work;
        session.Append([5, 6]);
        Assert.Equal(DocumentedWork(model.Config, n, n + 2), session.Work - before);
    }

    [RequiresModelFact]
    public async Task A_blended_prefill_recomputing_everything_does_the_work_of_a_full_prefill_and_exact_reuse_saves_the_prefix()
    {
        LlamaModel model = TestModel.Model;
        int[] prefix = model.Tokenizer.Encode("Here are some stories.", bos: true);
        int[] rest = model.Tokenizer.Encode("Mia liked to paint. She painted a big red sun.", bos: false);
        int[] prompt = [.. prefix, .. rest];
        await using var store = new BlendStore(new ChunkKeys(model.ModelId, model.Layout, "", chunkTokens: 16));
        LlamaSession writer = model.CreateSession();
        writer.Prefill(prompt);
        ChunkKey prefixKey = ModelKv.StorePrefix(store.Store, store.Keys, writer.Cache, prefix);
        ModelKv.StoreSegments(store.Store, store.Keys, writer.Cache, rest, prefix.Length);

        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Compute(prefix.Length, 0), BlendEntry.SegmentTokens(rest, prefix.Length)]));
        LlamaSession everything = model.CreateSession();
        everything.PrefillBlended(prompt, kv, new RecomputeSelector(kv, new RecomputeOptions { Share = 1 }));
        Assert.Equal(DocumentedWork(model.Config, 0, prompt.Length), everything.Work);

        BlendedKv exact = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Prefix(prefixKey, prefix.Length, 0), BlendEntry.Compute(rest.Length, prefix.Length)]));
        LlamaSession reuse = model.CreateSession();
        reuse.PrefillBlended(prompt, exact, selector: null);
        Assert.Equal(DocumentedWork(model.Config, prefix.Length, prompt.Length), reuse.Work);
    }
}
