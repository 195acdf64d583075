using KvTier.Format;
using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Reference;
using KvTier.Storage;
using KvTier.Testing.Records;
using KvTier.Testing;
using LLama;
using LLama.Native;
using Xunit;

namespace KvTier.LlamaSharp.Tests;

/// <summary>
/// The connector end to end on stories260K.gguf: a prompt served from KvTier (memory tier, disk tier after a reopen,
/// with a corrupt chunk, with an F16 cache) continues with exactly the greedy tokens of the same prompt computed
/// without a cache, while the engine evaluates fewer tokens.
/// </summary>
public sealed class KvTierLlamaCacheTests : IDisposable
{
    private const int ChunkTokens = 16;
    private const int Steps = 32;
    private const string ModelId = "stories260K.gguf";
    private static readonly int[] Prompt = LlamaEngine.ReferenceTokens[..40]; // 2 whole chunks + 8 tokens
    private static readonly LLamaSeqId Sequence = (LLamaSeqId)1;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kvtier-llamasharp-tests", Guid.NewGuid().ToString("n"));

    private string StorePath => Path.Combine(_directory, "store");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    private KvStore OpenStore(long memoryBytes = 16 * KvStoreOptions.MiB) => KvStore.Open(new KvStoreOptions
    {
        Directory = StorePath,
        MemoryCapacityBytes = memoryBytes,
        SegmentSizeBytes = 4 * KvStoreOptions.MiB,
        BackgroundCompaction = false,
    });

    // The prompt computed without any cache (an empty store), then its greedy continuation.
    private async Task<int[]> UncachedOutputAsync(GGMLType type)
    {
        string empty = Path.Combine(_directory, "empty");
        using KvStore store = KvStore.Open(new KvStoreOptions { Directory = empty, SegmentSizeBytes = 4 * KvStoreOptions.MiB });
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(type);
        var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
        LlamaPrefillResult result = await cache.PrefillAsync(Prompt, LLamaSeqId.Zero);
        Assert.Equal(0, result.TokensReused);
        Assert.Equal(Prompt.Length, result.TokensComputed);
        Assert.Null(result.Tier);
        return await LlamaEngine.GreedyAsync(cache, result.Logits, Prompt.Length, LLamaSeqId.Zero, Steps);
    }

    // Computes the prompt in a fresh context and stores its chunks; returns the keys of its whole chunks.
    private static async Task<ChunkKey[]> ComputeAndStoreAsync(KvStore store, GGMLType type)
    {
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(type);
        var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
        LlamaPrefillResult first = await cache.PrefillAsync(Prompt, Sequence);
        Assert.Equal(0, first.TokensReused);
        LlamaStoreResult stored = await cache.StoreAsync(Prompt, Sequence);
        Assert.Equal(new LlamaStoreResult(2, 0, 8), stored);
        Assert.Equal(new LlamaStoreResult(0, 2, 8), await cache.StoreAsync(Prompt, Sequence));
        return cache.Keys.PrefixKeys(Prompt, includePartial: false);
    }

    private static async Task<(LlamaPrefillResult Result, int[] Output)> ServeAsync(KvStore store, GGMLType type)
    {
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(type);
        var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
        LlamaPrefillResult result = await cache.PrefillAsync(Prompt, Sequence);
        int[] output = await LlamaEngine.GreedyAsync(cache, result.Logits, Prompt.Length, Sequence, Steps);
        return (result, output);
    }

    [RequiresModelFact]
    public async Task Memory_tier_hit_gives_the_uncached_greedy_output_with_fewer_tokens_evaluated()
    {
        int[] expected = await UncachedOutputAsync(GGMLType.GGML_TYPE_F32);
        using KvStore store = OpenStore();
        await ComputeAndStoreAsync(store, GGMLType.GGML_TYPE_F32);

        (LlamaPrefillResult result, int[] output) = await ServeAsync(store, GGMLType.GGML_TYPE_F32);
        Assert.Equal(32, result.TokensReused);
        Assert.Equal(8, result.TokensComputed);
        Assert.Equal(2, result.ChunksReused);
        Assert.Equal(0, result.ChunksRejected);
        Assert.Equal(ChunkSource.Memory, result.Tier);
        Assert.Equal(expected, output);
    }

    [RequiresModelFact]
    public async Task Engine_output_without_cache_is_the_llama2c_reference()
    {
        // The uncached path itself is right: llama.cpp continues "Once upon a time" as llama2.c does.
        int[] output = await UncachedOutputAsync(GGMLType.GGML_TYPE_F32);
        Assert.Equal(LlamaEngine.ReferenceTokens[Prompt.Length..], output[..(LlamaEngine.ReferenceTokens.Length - Prompt.Length)]);
    }

    [RequiresModelFact]
    public async Task Disk_tier_hit_after_reopening_gives_the_uncached_greedy_output()
    {
        int[] expected = await UncachedOutputAsync(GGMLType.GGML_TYPE_F32);
        using (KvStore store = OpenStore())
            await ComputeAndStoreAsync(store, GGMLType.GGML_TYPE_F32);

        using KvStore reopened = OpenStore(memoryBytes: 0);
        (LlamaPrefillResult result, int[] output) = await ServeAsync(reopened, GGMLType.GGML_TYPE_F32);
        Assert.Equal(32, result.TokensReused);
        Assert.Equal(8, result.TokensComputed);
        Assert.Equal(ChunkSource.Disk, result.Tier);
        Assert.Equal(expected, output);
    }

    [RequiresModelTheory]
    [InlineData(1, 16)] // second chunk corrupt: the first is still reused
    [InlineData(0, 0)]  // first chunk corrupt: nothing after it is usable
    public async Task Corrupt_chunk_and_all_after_it_are_recomputed(int corruptChunk, int expectedReused)
    {
        int[] expected = await UncachedOutputAsync(GGMLType.GGML_TYPE_F32);
        byte[] record;
        using (KvStore store = OpenStore())
        {
            ChunkKey[] keys = await ComputeAndStoreAsync(store, GGMLType.GGML_TYPE_F32);
            Assert.True(store.TryRead(keys[corruptChunk], out byte[]? bytes));
            record = bytes;
        }
        Assert.True(SegmentCorruption.FlipPayloadByte(StorePath, record, layer: 2, SectionKind.Values));

        using KvStore reopened = OpenStore();
        (LlamaPrefillResult result, int[] output) = await ServeAsync(reopened, GGMLType.GGML_TYPE_F32);
        Assert.Equal(expectedReused, result.TokensReused);
        Assert.Equal(Prompt.Length - expectedReused, result.TokensComputed);
        Assert.Equal(2 - expectedReused / ChunkTokens, result.ChunksRejected);
        Assert.Equal(expected, output);
        Assert.True(reopened.GetStatistics().CorruptionEvents >= 1);
    }

    [RequiresModelFact]
    public async Task F16_cache_round_trips_and_gives_the_uncached_f16_output()
    {
        int[] expected = await UncachedOutputAsync(GGMLType.GGML_TYPE_F16);
        using KvStore store = OpenStore();
        await ComputeAndStoreAsync(store, GGMLType.GGML_TYPE_F16);

        (LlamaPrefillResult result, int[] output) = await ServeAsync(store, GGMLType.GGML_TYPE_F16);
        Assert.Equal(32, result.TokensReused);
        Assert.Equal(8, result.TokensComputed);
        Assert.Equal(expected, output);

        // The stored chunk is the engine's F16 KV bit for bit.
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
        ChunkKeys keys = KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens);
        Assert.Equal(KvTier.Layout.KvElementType.Float16, keys.Fingerprint.Layout.ElementType);
        LlamaEngine.Evaluate(context, Prompt, 0, LLamaSeqId.Zero);
        var state = KvTier.LlamaSharp.State.SequenceState.Parse(LlamaEngine.SaveState(context, LLamaSeqId.Zero), KvTier.LlamaSharp.State.SequenceStateShape.For(keys.Fingerprint.Layout, null));
        Assert.True(store.TryGet(keys.PrefixKeys(Prompt, includePartial: false)[0], out RecordLease? lease));
        using (lease)
        {
            KvChunk chunk = lease.Record.Decode();
            int[] cells = state.CellsOfPositions(ChunkTokens);
            int rowBytes = state.RowBytes;
            for (int t = 0; t < ChunkTokens; t++)
            {
                Assert.Equal(state.Keys(3).Slice(cells[t] * rowBytes, rowBytes).ToArray(), chunk.Section(3, SectionKind.Keys).Slice(t * rowBytes, rowBytes).ToArray());
                Assert.Equal(state.Values(3).Slice(cells[t] * rowBytes, rowBytes).ToArray(), chunk.Section(3, SectionKind.Values).Slice(t * rowBytes, rowBytes).ToArray());
            }
        }
    }

    [RequiresModelFact]
    public async Task Chunks_of_another_cache_type_are_never_loaded()
    {
        // F32 chunks are stored; an F16 context has another fingerprint, so its keys differ and nothing is found.
        using KvStore store = OpenStore();
        await ComputeAndStoreAsync(store, GGMLType.GGML_TYPE_F32);
        (LlamaPrefillResult result, _) = await ServeAsync(store, GGMLType.GGML_TYPE_F16);
        Assert.Equal(0, result.TokensReused);

        // Keys of another layout are refused outright.
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext f16 = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
        using LLamaContext f32 = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
        Assert.Throws<ArgumentException>(() => new KvTierLlamaCache(f16, prefetcher, KvTierLlamaCache.CreateKeys(f32, ModelId, chunkTokens: ChunkTokens)));
    }

    [RequiresModelFact]
    public async Task Prompt_of_exactly_whole_chunks_leaves_its_last_chunk_to_evaluate()
    {
        int[] prompt = Prompt[..32];
        using KvStore store = OpenStore();
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
        var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
        LlamaPrefillResult first = await cache.PrefillAsync(prompt, Sequence);
        Assert.Equal(new LlamaStoreResult(2, 0, 0), await cache.StoreAsync(prompt, Sequence));
        LlamaPrefillResult second = await cache.PrefillAsync(prompt, Sequence);
        Assert.Equal(16, second.TokensReused);
        Assert.Equal(16, second.TokensComputed);
        Assert.Equal(GreedySampler.Argmax(first.Logits), GreedySampler.Argmax(second.Logits));
    }
}
