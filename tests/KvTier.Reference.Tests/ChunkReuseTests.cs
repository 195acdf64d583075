using KvTier.Format;
using KvTier.Layout;
using KvTier.Testing;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>KV moves between the engine's cache and chunks faithfully, and continuation quality measures what it should.</summary>
public sealed class ChunkReuseTests
{
    [RequiresModelFact]
    public void A_cache_round_trips_through_an_f32_chunk_exactly_and_through_f16_as_half_rounding()
    {
        GenerationResult run = TestModel.NewSession().Generate("Once upon a time", 40);
        KvLayout f32 = TestModel.Model.Layout;
        var f16 = new KvLayout(f32.Layers, f32.KvHeads, f32.HeadDim, KvElementType.Float16, f32.Rope, f32.KeysStoredAfterRope);

        foreach (KvLayout layout in new[] { f32, f16 })
        {
            KvChunk chunk = KvCacheChunks.ToChunk(run.Cache, 8, 24, layout);
            var cache = run.Cache.TakePrefix(8);
            KvCacheChunks.LoadInto(chunk, cache, 8);

            Assert.Equal(32, cache.Length);
            for (int layer = 0; layer < f32.Layers; layer++)
            {
                float[] expected = run.Cache.Keys(layer)[..(32 * f32.KvDim)].ToArray();
                if (layout.ElementType == KvElementType.Float16)
                {
                    for (int i = 8 * f32.KvDim; i < expected.Length; i++)
                        expected[i] = (float)(Half)expected[i];
                }

                Assert.Equal(expected, cache.Keys(layer).ToArray());
            }
        }
    }

    [RequiresModelFact]
    public void Chunks_that_do_not_fit_are_rejected()
    {
        GenerationResult run = TestModel.NewSession().Generate(null, 10);
        KvLayout layout = TestModel.Model.Layout;
        Assert.Throws<ArgumentOutOfRangeException>(() => KvCacheChunks.ToChunk(run.Cache, 5, 6, layout));
        KvChunk chunk = KvCacheChunks.ToChunk(run.Cache, 0, 4, layout);
        Assert.Throws<ArgumentOutOfRangeException>(() => KvCacheChunks.LoadInto(chunk, run.Cache.TakePrefix(2), 3)); // a gap before the chunk
        Assert.Throws<ArgumentException>(() => KvCacheChunks.ToChunk(run.Cache, 0, 4, new KvLayout(4, 4, 8, KvElementType.Float32, layout.Rope, true)));
    }

    [RequiresModelFact]
    public void Exact_kv_has_zero_kl_and_matching_greedy_continuation_and_perturbed_kv_does_not()
    {
        GenerationResult run = TestModel.NewSession().Generate("Once upon a time", 100);
        int[] tokens = [.. run.FedTokens];
        KvCache exact = run.Cache.TakePrefix(64);
        float[][] reference = ContinuationQuality.NextTokenDistributions(TestModel.Model, exact, tokens, 64, 16);

        Assert.Equal(0, ContinuationQuality.MeanKl(reference, ContinuationQuality.NextTokenDistributions(TestModel.Model, exact, tokens, 64, 16)));
        Assert.True(ContinuationQuality.GreedyMatches(TestModel.Model, exact, tokens, 64, 16));

        KvCache perturbed = exact.TakePrefix(64);
        for (int layer = 0; layer < perturbed.Layers; layer++)
        {
            Span<float> v = perturbed.WritableValues(layer)[..(64 * perturbed.KvDim)];
            for (int i = 0; i < v.Length; i++)
                v[i] = -v[i];
        }

        Assert.True(ContinuationQuality.MeanKl(reference, ContinuationQuality.NextTokenDistributions(TestModel.Model, perturbed, tokens, 64, 16)) > 1e-3);
        Assert.False(ContinuationQuality.GreedyMatches(TestModel.Model, perturbed, tokens, 64, 16));
    }
}
