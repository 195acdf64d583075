using KvTier.Prefetch;
using KvTier.Remote;
using KvTier.Storage;
using KvTier.Storage.Remote;
using KvTier.Testing;
using KvTier.Testing.Remote;
using LLama;
using LLama.Native;
using Xunit;

namespace KvTier.LlamaSharp.Tests;

/// <summary>
/// Two engine instances share one cache server: instance A computes a prompt and stores its chunks, written behind to the
/// server; instance B, whose own store is empty, finds the prefix at the server, loads it and continues exactly as without
/// a cache. Once with a real <c>kvtier serve</c> process between them, once with the server in this process.
/// </summary>
public sealed class SharedServerTests : IDisposable
{
    private const int ChunkTokens = 16;
    private const int Steps = 32;
    private const string ModelId = "stories260K.gguf";
    private const string Token = "llamasharp-shared-server-test-0123456789";
    private static readonly int[] Prompt = LlamaEngine.ReferenceTokens[..40]; // 2 whole chunks + 8 tokens

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kvtier-llamasharp-shared", Guid.NewGuid().ToString("n"));

    public SharedServerTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    [RequiresModelFact]
    public async Task A_prompt_stored_through_a_kvtier_serve_process_is_served_to_a_second_instance_with_an_empty_store()
    {
        string tokenFile = Path.Combine(_directory, "token");
        await File.WriteAllTextAsync(tokenFile, Token);
        using var server = new ServeProcess(Path.Combine(_directory, "server"), tokenFile);

        await ShareAsync(server.Host, server.Port);
    }

    [RequiresModelFact]
    public async Task A_prompt_stored_through_an_in_process_server_is_served_to_a_second_instance_with_an_empty_store()
    {
        KvStore serverStore = KvStore.Open(new KvStoreOptions { Directory = Path.Combine(_directory, "server"), SegmentSizeBytes = 4 * KvStoreOptions.MiB });
        await using KvCacheServer server = KvCacheServer.Start(serverStore, new KvCacheServerOptions { Secret = SharedSecret.FromString(Token) }, ownsStore: true);

        await ShareAsync("127.0.0.1", server.Endpoint.Port);
    }

    private async Task ShareAsync(string host, int port)
    {
        int[] expected = await UncachedOutputAsync();
        var tier = new RemoteTierOptions
        {
            Client = new KvCacheClientOptions { Host = host, Port = port, Secret = SharedSecret.FromString(Token) },
            CallTimeout = TimeSpan.FromSeconds(30), // a busy test machine must not turn a slow call into a miss
        };

        // Instance A: computes the prompt, stores its chunks locally; its store writes them behind to the server.
        await using (var tierA = new RemoteTier(tier))
        using (KvStore a = OpenStore("instance-a", tierA))
        {
            await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(a);
            using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
            var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
            Assert.Equal(0, (await cache.PrefillAsync(Prompt, LLamaSeqId.Zero)).TokensReused);
            Assert.Equal(new LlamaStoreResult(2, 0, 8), await cache.StoreAsync(Prompt, LLamaSeqId.Zero));
            await a.FlushRemoteAsync();
            StoreStatistics stats = a.GetStatistics();
            Assert.Equal(2, stats.RemoteWrites);
            Assert.Equal(0, stats.RemoteWritesDropped);
        }

        // Instance B: a new context and an empty store of its own in front of the same server.
        await using var tierB = new RemoteTier(tier);
        using KvStore b = OpenStore("instance-b", tierB);
        Assert.Equal(0, b.GetStatistics().Entries);
        await using (Prefetcher prefetcher = LlamaEngine.NewPrefetcher(b))
        {
            using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
            var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
            LlamaPrefillResult result = await cache.PrefillAsync(Prompt, LLamaSeqId.Zero);

            Assert.Equal(32, result.TokensReused);
            Assert.Equal(8, result.TokensComputed);
            Assert.Equal(0, result.ChunksRejected);
            Assert.Equal(ChunkSource.Remote, result.Tier);
            Assert.Equal(2, b.GetStatistics().RemoteHits); // both chunks came from the server
            Assert.Equal(expected, await LlamaEngine.GreedyAsync(cache, result.Logits, Prompt.Length, LLamaSeqId.Zero, Steps));
        }
    }

    private KvStore OpenStore(string name, IRemoteTier remote) => KvStore.Open(new KvStoreOptions
    {
        Directory = Path.Combine(_directory, name),
        MemoryCapacityBytes = 16 * KvStoreOptions.MiB,
        SegmentSizeBytes = 4 * KvStoreOptions.MiB,
        BackgroundCompaction = false,
        RemoteTier = remote,
    });

    // The prompt computed without any cache (a context of its own, no store involved), then its greedy continuation.
    private async Task<int[]> UncachedOutputAsync()
    {
        using KvStore store = KvStore.Open(new KvStoreOptions { Directory = Path.Combine(_directory, "empty"), SegmentSizeBytes = 4 * KvStoreOptions.MiB });
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F32);
        var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
        LlamaPrefillResult result = await cache.PrefillAsync(Prompt, LLamaSeqId.Zero);
        Assert.Equal(0, result.TokensReused);
        return await LlamaEngine.GreedyAsync(cache, result.Logits, Prompt.Length, LLamaSeqId.Zero, Steps);
    }
}
