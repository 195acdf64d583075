using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using KvTier.Keys;
using Xunit;

namespace KvTier.Tests.Keys;

/// <summary>What prefix and segment keys must and must not depend on.</summary>
public sealed class PrefixChainTests
{
    private static Arbitrary<int[]> Tokens() =>
        Gen.Choose(0, 600).ArrayOf().Where(a => a.Length > 0).ToArbitrary();

    [Property(MaxTest = 200)]
    public Property Prefix_key_i_depends_on_exactly_the_tokens_up_to_the_end_of_chunk_i() =>
        Prop.ForAll(Tokens(), Gen.Choose(0, 10_000).ToArbitrary(), (tokens, where) =>
        {
            ChunkKeys keys = TestLayouts.Keys(chunkTokens: 3);
            int changed = where % tokens.Length;
            int[] other = (int[])tokens.Clone();
            other[changed] ^= 1;

            ChunkKey[] a = keys.PrefixKeys(tokens);
            ChunkKey[] b = keys.PrefixKeys(other);
            int changedChunk = changed / 3;
            for (int i = 0; i < a.Length; i++)
                Assert.Equal(i < changedChunk, a[i] == b[i]);
        });

    [Property(MaxTest = 200)]
    public Property Extending_the_chain_step_by_step_equals_keying_the_whole_sequence() =>
        Prop.ForAll(Tokens(), tokens =>
        {
            ChunkKeys keys = TestLayouts.Keys(chunkTokens: 5);
            ChunkKey[] whole = keys.PrefixKeys(tokens);
            ChunkKey previous = keys.Root;
            foreach (TokenChunk chunk in keys.Split(tokens.Length))
            {
                previous = keys.NextPrefixKey(previous, tokens.AsSpan(chunk.Start, chunk.Count));
                Assert.Equal(whole[chunk.Index], previous);
            }
        });

    [Property(MaxTest = 200)]
    public Property Segment_key_does_not_depend_on_position_or_preceding_tokens() =>
        Prop.ForAll(Tokens(), Tokens(), (before, chunk) =>
        {
            ChunkKeys keys = TestLayouts.Keys(chunkTokens: 1024);
            int[] sequence = [.. before, .. chunk];
            Assert.Equal(keys.SegmentKey(chunk), keys.SegmentKey(sequence.AsSpan(before.Length)));
            Assert.NotEqual(keys.SegmentKey(chunk), keys.PrefixKeys(chunk)[0]);
        });

    [Fact]
    public void Trailing_partial_chunk_is_keyed_and_can_be_left_out()
    {
        ChunkKeys keys = TestLayouts.Keys(chunkTokens: 4);
        int[] tokens = [1, 2, 3, 4, 5, 6];

        ChunkKey[] with = keys.PrefixKeys(tokens);
        ChunkKey[] without = keys.PrefixKeys(tokens, includePartial: false);

        Assert.Equal(2, with.Length);
        Assert.Equal([with[0]], without);
        Assert.Single(keys.SegmentKeys(tokens, includePartial: false));
        // Growing the partial chunk to full size gives a new key: the partial key is never reused for other content.
        Assert.NotEqual(with[1], keys.PrefixKeys([1, 2, 3, 4, 5, 6, 7, 8])[1]);
    }

    [Fact]
    public void Chunk_size_only_moves_boundaries_keys_agree_where_chunks_coincide()
    {
        int[] tokens = Enumerable.Range(10, 12).ToArray();
        ChunkKey[] by4 = TestLayouts.Keys(chunkTokens: 4).PrefixKeys(tokens);
        ChunkKey[] by12 = TestLayouts.Keys(chunkTokens: 12).PrefixKeys(tokens);
        ChunkKey[] by6 = TestLayouts.Keys(chunkTokens: 6).PrefixKeys(tokens);
        // Different boundaries, different chains.
        Assert.NotEqual(by4[^1], by12[^1]);
        Assert.NotEqual(by6[^1], by12[^1]);
        // The first 4-token chunk of the 4-chain is the 4-token partial chunk of a 6-chain over the same 4 tokens.
        Assert.Equal(by4[0], TestLayouts.Keys(chunkTokens: 6).PrefixKeys(tokens.AsSpan(0, 4))[0]);
    }

    [Fact]
    public void Namespaces_and_models_never_share_keys()
    {
        int[] tokens = [1, 403, 407, 261];
        ChunkKey shared = TestLayouts.Keys("").PrefixKeys(tokens)[0];
        ChunkKey tenant = TestLayouts.Keys("tenant-a").PrefixKeys(tokens)[0];
        ChunkKey otherModel = new ChunkKeys("stories260K-b", TestLayouts.Stories260K, "", 4).PrefixKeys(tokens)[0];
        Assert.Equal(3, new HashSet<ChunkKey> { shared, tenant, otherModel }.Count);
        Assert.NotEqual(TestLayouts.Keys("").SegmentKey(tokens), TestLayouts.Keys("tenant-a").SegmentKey(tokens));
    }

    [Fact]
    public void Split_covers_the_sequence_with_full_chunks_and_at_most_one_partial_tail()
    {
        ChunkKeys keys = TestLayouts.Keys(chunkTokens: 256);
        Assert.Empty(keys.Split(0));
        foreach (int n in new[] { 1, 255, 256, 257, 512, 1000 })
        {
            TokenChunk[] chunks = keys.Split(n);
            Assert.Equal((n + 255) / 256, chunks.Length);
            Assert.Equal(n, chunks.Sum(c => c.Count));
            for (int i = 0; i < chunks.Length; i++)
            {
                Assert.Equal(i, chunks[i].Index);
                Assert.Equal(i == 0 ? 0 : chunks[i - 1].End, chunks[i].Start);
                Assert.Equal(chunks[i].Count < 256, chunks[i].IsPartial);
                Assert.True(!chunks[i].IsPartial || i == chunks.Length - 1);
            }
        }
    }

    [Fact]
    public void Bad_input_is_rejected_with_the_parameter_named()
    {
        ChunkKeys keys = TestLayouts.Keys(chunkTokens: 4);
        Assert.Equal("tokens", Assert.Throws<ArgumentOutOfRangeException>(() => keys.PrefixKeys([1, -5])).ParamName);
        Assert.Throws<ArgumentException>(() => keys.SegmentKey([]));
        Assert.Throws<ArgumentException>(() => keys.SegmentKey([1, 2, 3, 4, 5]));
        Assert.Throws<ArgumentException>(() => keys.NextPrefixKey(keys.Root, [1, 2, 3, 4, 5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => TestLayouts.Keys(chunkTokens: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => TestLayouts.Keys(chunkTokens: ChunkKeys.MaxChunkTokens + 1));
        Assert.Equal("namespace", Assert.Throws<ArgumentException>(() => TestLayouts.Keys(new string('n', 256))).ParamName);
        Assert.Throws<ArgumentException>(() => TestLayouts.Keys("\ud800"));
        Assert.Equal("modelId", Assert.Throws<ArgumentException>(() => ModelFingerprint.Compute("", TestLayouts.Stories260K)).ParamName);
        Assert.Throws<ArgumentException>(() => ModelFingerprint.Compute(new string('é', 128), TestLayouts.Stories260K));
        // 255 bytes is the limit, inclusive.
        _ = TestLayouts.Keys(new string('n', 255));
        _ = ModelFingerprint.Compute(new string('m', 255), TestLayouts.Stories260K);
    }
}
