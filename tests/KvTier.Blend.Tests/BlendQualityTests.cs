using KvTier.Keys;
using KvTier.Reference;
using KvTier.Testing;
using Xunit;
using Xunit.Abstractions;

namespace KvTier.Blend.Tests;

/// <summary>
/// On the real model, over documents stored once and blended in new orders: re-rotating moved keys brings the
/// continuation closer to the full prefill's (lower KL) than leaving them with their old positions, and recomputing a
/// larger share does not make it worse on average.
/// </summary>
public sealed class BlendQualityTests(ITestOutputHelper output)
{
    private static readonly int[][] Orders = [[1, 0, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]];

    [RequiresModelFact]
    public async Task Rerotation_lowers_the_kl_and_more_recomputation_does_not_raise_it()
    {
        LlamaModel model = TestModel.Model;
        RagCorpus corpus = RagCorpus.Generate(model, [.. RagCorpus.DefaultSeeds.Take(4)], documentTokens: 32);
        await using var store = new BlendStore(new ChunkKeys(model.ModelId, model.Layout, "", chunkTokens: 16));
        RagStore.StoreCorpus(model, store.Store, store.Keys, corpus);
        var unrotated = new Blender(store.Prefetcher, store.Keys, new BlendOptions { RerotateKeys = false });
        var fifteen = new RecomputeOptions { Share = 0.15 };
        var fifty = new RecomputeOptions { Share = 0.5 };

        double rotated15 = 0, unrotated15 = 0, rotated50 = 0;
        foreach (int[] order in Orders)
        {
            var evaluation = new BlendEvaluation(model, corpus, order, steps: 16);
            BlendOutcome withRotation = await evaluation.BlendAsync(store.Blender, fifteen);
            BlendOutcome withoutRotation = await evaluation.BlendAsync(unrotated, fifteen);
            BlendOutcome more = await evaluation.BlendAsync(store.Blender, fifty);
            Assert.Equal(withRotation.RecomputedTokens, withoutRotation.RecomputedTokens); // as many positions recomputed either way
            Assert.True(more.RecomputedTokens > withRotation.RecomputedTokens);
            output.WriteLine($"[{string.Join(", ", order)}]: KL 15% {withRotation.MeanKl:E3} (unrotated {withoutRotation.MeanKl:E3}), 50% {more.MeanKl:E3}");
            rotated15 += withRotation.MeanKl / Orders.Length;
            unrotated15 += withoutRotation.MeanKl / Orders.Length;
            rotated50 += more.MeanKl / Orders.Length;
        }

        output.WriteLine($"mean KL: 15% {rotated15:E3}, unrotated {unrotated15:E3}, 50% {rotated50:E3}");
        Assert.True(rotated15 < unrotated15, $"re-rotation did not help: mean KL {rotated15:E3} with it, {unrotated15:E3} without");
        Assert.True(rotated50 <= rotated15, $"recomputing 50% gave a higher mean KL ({rotated50:E3}) than 15% ({rotated15:E3})");
    }
}
