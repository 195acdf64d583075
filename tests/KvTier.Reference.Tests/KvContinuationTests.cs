using KvTier.Reference;
using KvTier.Testing;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>
/// Continuing a prefill from the KV cache of its own prefix gives what a full prefill gives: the engine's notion of
/// cache reuse is sound for this model.
/// </summary>
public sealed class KvContinuationTests
{
    private const float Tolerance = 1e-5f;

    private static readonly Lazy<int[]> Sequence = new(() =>
        [.. TestModel.NewSession().Generate("Once upon a time", 64).FedTokens]);

    private static readonly Lazy<(float[] Logits, KvCache Cache)> Full = new(() =>
    {
        LlamaSession session = TestModel.NewSession();
        float[] logits = session.Prefill(Sequence.Value).ToArray();
        return (logits, session.Cache.TakePrefix(session.Cache.Length));
    });

    [RequiresModelTheory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(23)] // inside a 16-token chunk
    [InlineData(40)]
    [InlineData(63)]
    public void PrefillReusingItsOwnPrefixMatchesAFullPrefill(int split)
    {
        int[] tokens = Sequence.Value;
        KvCache prefix = PrefixCache(tokens, split);
        LlamaSession session = TestModel.NewSession();

        float[] logits = session.Prefill(tokens, prefix).ToArray();

        Assert.Equal(tokens.Length - split, session.ForwardCount); // reused positions are not recomputed
        AssertClose(Full.Value.Logits, logits);
        AssertSameKv(Full.Value.Cache, session.Cache);
    }

    [RequiresModelTheory]
    [InlineData(0)]
    [InlineData(23)]
    [InlineData(63)]
    public void SessionStartedFromACacheContinuesLikeAFullPrefill(int split)
    {
        int[] tokens = Sequence.Value;
        var session = new LlamaSession(TestModel.Model, PrefixCache(tokens, split));

        float[] logits = session.Append(tokens.AsSpan(split)).ToArray();

        Assert.Equal(tokens.Length - split, session.ForwardCount);
        AssertClose(Full.Value.Logits, logits);
        AssertSameKv(Full.Value.Cache, session.Cache);
    }

    [RequiresModelFact]
    public void ReuseLongerThanThePromptStillComputesTheLastToken()
    {
        int[] tokens = Sequence.Value;
        LlamaSession expected = TestModel.NewSession();
        float[] expectedLogits = expected.Prefill(tokens.AsSpan(0, 10)).ToArray();
        LlamaSession session = TestModel.NewSession();

        float[] logits = session.Prefill(tokens.AsSpan(0, 10), Full.Value.Cache).ToArray();

        Assert.Equal(1, session.ForwardCount);
        Assert.Equal(10, session.Cache.Length);
        AssertClose(expectedLogits, logits);
        AssertSameKv(expected.Cache, session.Cache);
    }

    [RequiresModelFact]
    public void PrefillMatchesTokenByTokenForward()
    {
        int[] tokens = Sequence.Value;
        LlamaSession session = TestModel.NewSession();
        float[] logits = [];
        for (int position = 0; position < tokens.Length; position++)
            logits = session.Forward(tokens[position], position).ToArray();

        Assert.Equal(Full.Value.Logits, logits);
        AssertSameKv(Full.Value.Cache, session.Cache);
    }

    [RequiresModelFact]
    public void ForwardAtAnEarlierPositionDropsLaterPositions()
    {
        int[] tokens = Sequence.Value;
        LlamaSession session = TestModel.NewSession();
        session.Prefill(tokens.AsSpan(0, 20));

        float[] logits = session.Forward(tokens[10], 10).ToArray();

        Assert.Equal(11, session.Cache.Length);
        LlamaSession fresh = TestModel.NewSession();
        Assert.Equal(fresh.Prefill(tokens.AsSpan(0, 11)).ToArray(), logits);
    }

    [RequiresModelFact]
    public void BadArgumentsAreRejectedWithoutChangingTheCache()
    {
        int[] tokens = Sequence.Value;
        LlamaSession session = TestModel.NewSession();
        session.Prefill(tokens.AsSpan(0, 8));
        float key = session.Cache.Keys(4)[7 * 32];

        Assert.Throws<ArgumentOutOfRangeException>(() => session.Prefill([1, 512]));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Append([-1]));
        Assert.Throws<ArgumentException>(() => session.Prefill([]));
        Assert.Throws<ArgumentException>(() => session.Append(new int[512 - 8 + 1]));
        Assert.Throws<ArgumentException>(() => session.Prefill([1, 2], new KvCache(5, 16, 512)));
        Assert.Throws<ArgumentException>(() => session.Prefill([1, 2], new KvCache(4, 32, 512)));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward(1, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward(512, 0));
        Assert.Throws<ArgumentException>(() => new LlamaSession(TestModel.Model, new KvCache(5, 64, 4)));

        Assert.Equal(8, session.Cache.Length);
        Assert.Equal(key, session.Cache.Keys(4)[7 * 32]);
    }

    [Theory]
    [InlineData(true, 8, 2)]
    [InlineData(false, 8, 8)]
    [InlineData(false, 4, 1)]
    public void ContinuationHoldsForOtherShapes(bool sharedClassifier, int heads, int kvHeads)
    {
        // A random model with 259 + 41 tokens, an unshared classifier or other head counts than stories260K.
        var config = new LlamaConfig(32, 48, 2, heads, kvHeads, 300, 40, sharedClassifier);
        var checkpoint = LlamaCheckpoint.Parse(SyntheticCheckpoint.Build(config, seed: 7), "synthetic");
        var model = new LlamaModel(checkpoint, Tokenizer.Parse(SyntheticCheckpoint.BuildByteTokenizer(300), 300), "synthetic");
        Assert.Equal(sharedClassifier, ReferenceEquals(checkpoint.Weights.TokenEmbedding, checkpoint.Weights.Classifier));
        int[] tokens = [.. Enumerable.Range(0, 30).Select(i => (i * 37 + 1) % 300)];
        var full = new LlamaSession(model);
        float[] expected = full.Prefill(tokens).ToArray();

        foreach (int split in new[] { 0, 1, 13, 29 })
        {
            var prefix = new LlamaSession(model);
            if (split > 0)
                prefix.Prefill(tokens.AsSpan(0, split));
            var session = new LlamaSession(model);
            float[] logits = session.Prefill(tokens, prefix.Cache).ToArray();

            AssertClose(expected, logits);
            AssertSameKv(full.Cache, session.Cache);
        }
    }

    private static KvCache PrefixCache(int[] tokens, int split)
    {
        LlamaSession session = TestModel.NewSession();
        if (split > 0)
            session.Prefill(tokens.AsSpan(0, split));
        return session.Cache.TakePrefix(split);
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (!(Math.Abs(expected[i] - actual[i]) <= Tolerance))
                Assert.Fail($"element {i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    private static void AssertSameKv(KvCache expected, KvCache actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int layer = 0; layer < expected.Layers; layer++)
        {
            AssertClose(expected.Keys(layer), actual.Keys(layer));
            AssertClose(expected.Values(layer), actual.Values(layer));
        }
    }
}
