using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Storage;
using KvTier.Testing;
using KvTier.Testing.Records;
using LLama;
using LLama.Native;
using Xunit;

namespace KvTier.LlamaSharp.Tests;

/// <summary>
/// What a service embedding the connector relies on besides the output: a load into one sequence leaves the context's
/// other sequences as they were; bad arguments are refused before the store or the context changes; a cancelled prefill
/// leaves the connector usable.
/// </summary>
public sealed class ConnectorContractTests : IDisposable
{
    private const int ChunkTokens = 16;
    private const string ModelId = "stories260K.gguf";
    private static readonly int[] Prompt = LlamaEngine.ReferenceTokens[..40]; // 2 whole chunks + 8 tokens
    private static readonly int[] Other = LlamaEngine.ReferenceTokens[20..44]; // another sequence's prompt

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kvtier-llamasharp-contract", Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    private KvStore OpenStore(string name) => KvStore.Open(new KvStoreOptions
    {
        Directory = Path.Combine(_directory, name),
        MemoryCapacityBytes = 16 * KvStoreOptions.MiB,
        SegmentSizeBytes = 4 * KvStoreOptions.MiB,
        BackgroundCompaction = false,
    });

    private static KvTierLlamaCache Connect(LLamaContext context, Prefetcher prefetcher) =>
        new(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));

    // `tokens` evaluated from scratch in a context of their own, then `steps` greedy tokens.
    private static async Task<int[]> AloneAsync(KvStore store, int[] tokens, int steps, GGMLType cacheType = GGMLType.GGML_TYPE_F32)
    {
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(cacheType);
        KvTierLlamaCache cache = Connect(context, prefetcher);
        float[] logits = await cache.EvaluateAsync(tokens, 0, LLamaSeqId.Zero);
        return await LlamaEngine.GreedyAsync(cache, logits, tokens.Length, LLamaSeqId.Zero, steps);
    }

    [RequiresModelFact]
    public async Task A_load_into_one_sequence_leaves_another_sequence_of_the_context_as_it_was()
    {
        using KvStore empty = OpenStore("empty");
        int[] otherAlone = await AloneAsync(empty, Other, 8);
        int[] promptAlone = await AloneAsync(empty, Prompt, 8);

        using KvStore store = OpenStore("store");
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
        KvTierLlamaCache cache = Connect(context, prefetcher);
        await cache.PrefillAsync(Prompt, (LLamaSeqId)1);
        await cache.StoreAsync(Prompt, (LLamaSeqId)1);
        cache.ClearSequence((LLamaSeqId)1);

        // Sequence 0 holds another prompt while sequence 1 is loaded from the store.
        float[] otherLogits = await cache.EvaluateAsync(Other, 0, LLamaSeqId.Zero);
        LlamaPrefillResult loaded = await cache.PrefillAsync(Prompt, (LLamaSeqId)1);
        Assert.Equal(32, loaded.TokensReused);
        Assert.Equal(Other.Length - 1, context.NativeHandle.MemorySequenceMaxPosition(LLamaSeqId.Zero).Value);

        Assert.Equal(otherAlone, await LlamaEngine.GreedyAsync(cache, otherLogits, Other.Length, LLamaSeqId.Zero, 8));
        Assert.Equal(promptAlone, await LlamaEngine.GreedyAsync(cache, loaded.Logits, Prompt.Length, (LLamaSeqId)1, 8));
    }

    [RequiresModelTheory]
    [InlineData(-1, 1L)] // no corruption, one chunk per window: all 3 whole chunks of the 60-token prompt are reused
    [InlineData(-1, 64L << 20)] // no corruption, every chunk in one window
    [InlineData(2, 1L)] // the third chunk corrupt: its window loads nothing, the first two are reused
    [InlineData(2, 64L << 20)] // the same found inside the one window: the state is cut back to the first two
    [InlineData(1, 1L)] // the second corrupt: only the first window is reused
    [InlineData(1, 64L << 20)]
    public async Task Loading_a_window_at_a_time_gives_the_uncached_output(int corruptChunk, long windowBytes)
    {
        int[] prompt = LlamaEngine.ReferenceTokens[..60];
        using KvStore empty = OpenStore("empty");
        int[] expected = await AloneAsync(empty, prompt, 16, GGMLType.GGML_TYPE_F16);
        using (KvStore store = OpenStore("store"))
        {
            await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
            using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
            KvTierLlamaCache cache = Connect(context, prefetcher);
            await cache.PrefillAsync(prompt, LLamaSeqId.Zero);
            Assert.Equal(3, (await cache.StoreAsync(prompt, LLamaSeqId.Zero)).ChunksStored);
            if (corruptChunk >= 0)
            {
                ChunkKey[] keys = cache.Keys.PrefixKeys(prompt, includePartial: false);
                Assert.True(store.TryRead(keys[corruptChunk], out byte[]? record));
                store.Dispose();
                Assert.True(SegmentCorruption.FlipPayloadByte(Path.Combine(_directory, "store"), record, layer: 1, Format.SectionKind.Keys));
            }
        }

        using KvStore reopened = OpenStore("store");
        await using (Prefetcher prefetcher = LlamaEngine.NewPrefetcher(reopened))
        {
            using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
            var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens),
                new KvTierLlamaCacheOptions { LoadWindowBytes = windowBytes });
            LlamaPrefillResult result = await cache.PrefillAsync(prompt, LLamaSeqId.Zero);
            Assert.Equal(corruptChunk < 0 ? 48 : corruptChunk * ChunkTokens, result.TokensReused);
            Assert.Equal(corruptChunk < 0 ? 0 : 3 - corruptChunk, result.ChunksRejected);
            Assert.Equal(expected, await LlamaEngine.GreedyAsync(cache, result.Logits, prompt.Length, LLamaSeqId.Zero, 16));
        }
        Assert.Equal(0, reopened.GetStatistics().OpenLeases);
    }

    [RequiresModelFact]
    public async Task Loads_of_different_lengths_on_one_connector_each_give_the_uncached_output()
    {
        int[] longer = LlamaEngine.ReferenceTokens[..60], shorter = LlamaEngine.ReferenceTokens[..40];
        using KvStore empty = OpenStore("empty");
        int[] longerAlone = await AloneAsync(empty, longer, 12, GGMLType.GGML_TYPE_F16), shorterAlone = await AloneAsync(empty, shorter, 12, GGMLType.GGML_TYPE_F16);
        using KvStore store = OpenStore("store");
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
        KvTierLlamaCache cache = Connect(context, prefetcher);
        await cache.PrefillAsync(longer, LLamaSeqId.Zero);
        await cache.StoreAsync(longer, LLamaSeqId.Zero);

        // The connector keeps its buffers from one load to the next: a shorter load after a longer one, then longer again.
        foreach ((int[] prompt, int[] expected, int reused) in new[] { (longer, longerAlone, 48), (shorter, shorterAlone, 32), (longer, longerAlone, 48) })
        {
            LlamaPrefillResult result = await cache.PrefillAsync(prompt, LLamaSeqId.Zero);
            Assert.Equal(reused, result.TokensReused);
            Assert.Equal(expected, await LlamaEngine.GreedyAsync(cache, result.Logits, prompt.Length, LLamaSeqId.Zero, 12));
        }
    }

    [RequiresModelFact]
    public async Task A_load_window_under_one_byte_is_refused()
    {
        using KvStore store = OpenStore("store");
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new KvTierLlamaCache(context, prefetcher,
            KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens), new KvTierLlamaCacheOptions { LoadWindowBytes = 0 }));
        Assert.Contains(nameof(KvTierLlamaCacheOptions.LoadWindowBytes), error.Message, StringComparison.Ordinal);
    }

    [RequiresModelFact]
    public async Task Tokenize_gives_the_tokens_llama2c_feeds_for_the_same_text()
    {
        using KvStore store = OpenStore("store");
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
        KvTierLlamaCache cache = Connect(context, prefetcher);

        int[] tokens = cache.Tokenize("Once upon a time");
        Assert.True(tokens.Length >= 5, $"{tokens.Length} tokens"); // BOS and at least one per word
        Assert.Equal(LlamaEngine.ReferenceTokens[..tokens.Length], tokens); // BOS, then the prompt as llama2.c encodes it
        Assert.Equal(tokens[1..], cache.Tokenize("Once upon a time", addBos: false));
    }

    [RequiresModelFact]
    public async Task Bad_arguments_are_refused_before_the_store_or_the_context_changes()
    {
        using KvStore store = OpenStore("store");
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
        KvTierLlamaCache cache = Connect(context, prefetcher);
        await cache.EvaluateAsync(Other, 0, LLamaSeqId.Zero);

        await Assert.ThrowsAsync<ArgumentException>(() => cache.PrefillAsync(Array.Empty<int>(), LLamaSeqId.Zero));
        await Assert.ThrowsAsync<ArgumentException>(() => cache.PrefillAsync(new int[context.ContextSize + 1], LLamaSeqId.Zero));
        await Assert.ThrowsAsync<ArgumentException>(() => cache.EvaluateAsync(Array.Empty<int>(), 0, LLamaSeqId.Zero));
        await Assert.ThrowsAsync<ArgumentException>(() => cache.EvaluateAsync(Prompt, (int)context.ContextSize - 8, LLamaSeqId.Zero));
        await Assert.ThrowsAsync<ArgumentException>(() => cache.EvaluateAsync(Prompt, -1, LLamaSeqId.Zero));
        // The sequence holds 24 tokens, not the 40 of Prompt: nothing of it may be stored under Prompt's keys.
        await Assert.ThrowsAsync<InvalidOperationException>(() => cache.StoreAsync(Prompt, LLamaSeqId.Zero));

        Assert.Equal(0, store.GetStatistics().Entries);
        Assert.Equal(Other.Length - 1, context.NativeHandle.MemorySequenceMaxPosition(LLamaSeqId.Zero).Value);
        Layout.KvLayout layout = LlamaKvLayout.FromContext(context);
        var otherLayout = new Layout.KvLayout(layout.Layers + 1, layout.KvHeads, layout.HeadDim, layout.ElementType, layout.Rope, layout.KeysStoredAfterRope);
        Assert.Throws<ArgumentException>(() => new KvTierLlamaCache(context, prefetcher, new Keys.ChunkKeys(ModelId, otherLayout, "", ChunkTokens)));
    }

    [RequiresModelFact]
    public async Task A_cancelled_prefill_throws_and_the_next_one_loads_as_usual()
    {
        using KvStore store = OpenStore("store");
        int[] expected = await AloneAsync(store, Prompt, 8);
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
        KvTierLlamaCache cache = Connect(context, prefetcher);
        await cache.PrefillAsync(Prompt, LLamaSeqId.Zero);
        await cache.StoreAsync(Prompt, LLamaSeqId.Zero);

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.PrefillAsync(Prompt, LLamaSeqId.Zero, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.StoreAsync(Prompt, LLamaSeqId.Zero, cancelled.Token));

        LlamaPrefillResult result = await cache.PrefillAsync(Prompt, LLamaSeqId.Zero);
        Assert.Equal(32, result.TokensReused);
        Assert.Equal(expected, await LlamaEngine.GreedyAsync(cache, result.Logits, Prompt.Length, LLamaSeqId.Zero, 8));
        Assert.Equal(0, store.GetStatistics().OpenLeases);
        Assert.Equal(0, prefetcher.GetStatistics().StagingRentedBytes);
    }
}
