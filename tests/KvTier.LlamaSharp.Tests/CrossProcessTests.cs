using System.Text.Json;
using KvTier.Prefetch;
using KvTier.Remote;
using KvTier.Storage;
using KvTier.Testing;
using KvTier.Testing.Cli;
using KvTier.Testing.Remote;
using LLama;
using LLama.Native;
using Xunit;

namespace KvTier.LlamaSharp.Tests;

/// <summary>
/// A prompt computed in one OS process reaches two others through a real <c>kvtier serve</c> process: a
/// <c>kvtier prefill --server</c> process computes it and writes its chunks behind to the server; this process, with an
/// empty store of its own in front of the server, loads them and continues exactly as without a cache; and a third
/// process, <c>kvtier prefill --server --generate 32</c>, reuses them and generates the same 32 tokens.
/// </summary>
public sealed class CrossProcessTests : IDisposable
{
    private const int ChunkTokens = 16;
    private const int Steps = 32;
    private const string ModelId = "stories260K.gguf"; // the command's default: the GGUF file's name
    private const string Token = "llamasharp-cross-process-test-0123456789";

    // About 40 tokens: 2 whole chunks and a few more, as in SharedServerTests.
    private const string PromptText = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends and her dog.";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kvtier-llamasharp-cross-process", Guid.NewGuid().ToString("n"));

    public CrossProcessTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    [RequiresModelFact]
    public async Task A_prompt_prefilled_in_one_process_is_served_through_kvtier_serve_to_two_others_with_identical_greedy_output()
    {
        string tokenFile = Path.Combine(_directory, "token");
        await File.WriteAllTextAsync(tokenFile, Token);
        using var server = new ServeProcess(Path.Combine(_directory, "server"), tokenFile);
        (int[] prompt, int[] expected) = await UncachedOutputAsync();
        Assert.Equal(2, prompt.Length / ChunkTokens);
        Assert.Equal(2, (prompt.Length - 1) / ChunkTokens);
        string[] prefill = ["prefill", "--model", LlamaEngine.GgufPath, "--prompt", PromptText, "--server", server.Endpoint, "--token-file", tokenFile,
            "--chunk-tokens", "16", "--cache-type", "f16", "--json"];

        // The writer: computes everything (the server holds nothing yet) and writes both whole chunks behind to the server.
        using (JsonDocument writer = RunKvTier(prefill))
        {
            JsonElement w = writer.RootElement;
            Assert.Equal(prompt.Length, w.GetProperty("promptTokens").GetInt32());
            Assert.Equal(0, w.GetProperty("tokensReused").GetInt32());
            Assert.Equal(2, w.GetProperty("chunksStored").GetInt32());
            Assert.Equal(2, w.GetProperty("remoteWrites").GetInt32());
        }

        // This process: a new context and an empty store of its own in front of the same server.
        var tier = new RemoteTierOptions
        {
            Client = new KvCacheClientOptions { Host = server.Host, Port = server.Port, Secret = SharedSecret.FromString(Token) },
            CallTimeout = TimeSpan.FromSeconds(30), // a busy test machine must not turn a slow call into a miss
        };
        await using (var remote = new RemoteTier(tier))
        using (KvStore store = KvStore.Open(new KvStoreOptions
        {
            Directory = Path.Combine(_directory, "reader"),
            MemoryCapacityBytes = 16 * KvStoreOptions.MiB,
            SegmentSizeBytes = 4 * KvStoreOptions.MiB,
            BackgroundCompaction = false,
            RemoteTier = remote,
        }))
        {
            Assert.Equal(0, store.GetStatistics().Entries);
            await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
            using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
            var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
            LlamaPrefillResult result = await cache.PrefillAsync(prompt, LLamaSeqId.Zero);

            Assert.Equal(2 * ChunkTokens, result.TokensReused);
            Assert.Equal(prompt.Length - 2 * ChunkTokens, result.TokensComputed);
            Assert.Equal(0, result.ChunksRejected);
            Assert.Equal(ChunkSource.Remote, result.Tier);
            Assert.Equal(2, store.GetStatistics().RemoteHits);
            Assert.Equal(expected, await LlamaEngine.GreedyAsync(cache, result.Logits, prompt.Length, LLamaSeqId.Zero, Steps));
        }

        // A third process: its scratch store is empty too; it reuses both chunks from the server and generates the same tokens.
        using JsonDocument reader = RunKvTier([.. prefill, "--generate", "32"]);
        JsonElement r = reader.RootElement;
        Assert.Equal(2 * ChunkTokens, r.GetProperty("tokensReused").GetInt32());
        Assert.Equal(prompt.Length - 2 * ChunkTokens, r.GetProperty("tokensComputed").GetInt32());
        Assert.Equal(0, r.GetProperty("chunksRejected").GetInt32());
        Assert.Equal("remote", r.GetProperty("tier").GetString());
        Assert.Equal(0, r.GetProperty("chunksStored").GetInt32());
        Assert.Equal(expected, r.GetProperty("generatedTokens").EnumerateArray().Select(t => t.GetInt32()).ToArray());
    }

    // The prompt's tokens as the command tokenizes them (BOS first), computed without any cache (a context of its own, no
    // store involved) in the command's cache type, then its greedy continuation.
    private async Task<(int[] Prompt, int[] Output)> UncachedOutputAsync()
    {
        using KvStore store = KvStore.Open(new KvStoreOptions { Directory = Path.Combine(_directory, "empty"), SegmentSizeBytes = 4 * KvStoreOptions.MiB });
        await using Prefetcher prefetcher = LlamaEngine.NewPrefetcher(store);
        using LLamaContext context = LlamaEngine.CreateContext(GGMLType.GGML_TYPE_F16);
        var cache = new KvTierLlamaCache(context, prefetcher, KvTierLlamaCache.CreateKeys(context, ModelId, chunkTokens: ChunkTokens));
        int[] prompt = cache.Tokenize(PromptText);
        LlamaPrefillResult result = await cache.PrefillAsync(prompt, LLamaSeqId.Zero);
        Assert.Equal(0, result.TokensReused);
        return (prompt, await LlamaEngine.GreedyAsync(cache, result.Logits, prompt.Length, LLamaSeqId.Zero, Steps));
    }

    // The built kvtier program (copied beside the tests) in a new process; it must succeed and print one JSON object.
    private static JsonDocument RunKvTier(string[] args)
    {
        KvTierProcess.Result result = KvTierProcess.Run(args);
        Assert.True(result.ExitCode == 0, $"kvtier {args[0]} exited {result.ExitCode}: {result.Error}");
        return JsonDocument.Parse(result.Output);
    }
}
