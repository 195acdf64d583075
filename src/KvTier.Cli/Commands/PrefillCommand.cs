using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using KvTier.Cli.Llama;
using KvTier.Keys;
using KvTier.LlamaSharp;
using KvTier.Prefetch.Decoding;
using KvTier.Prefetch;
using KvTier.Reference;
using KvTier.Remote;
using KvTier.Storage.Remote;
using KvTier.Storage;
using LLama;
using LLama.Common;
using LLama.Exceptions;
using LLama.Native;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier prefill --model GGUF (--prompt TEXT | --prompt-file FILE) (--store DIR | --server HOST:PORT --token-file F)</c>:
/// evaluates a prompt in llama.cpp (LLamaSharp, CPU) with KvTier as its prefix cache (<see cref="KvTierLlamaCache"/>),
/// stores the prompt's whole chunks the store lacks, then optionally generates greedy tokens. With <c>--server</c> the
/// store is a scratch one in front of the server, written behind to it and flushed before exit, so that another process
/// (another engine, or this command again) finds the chunks there.
/// Exit codes: 1 bad input (checked before anything is stored) or a chunk the server did not get, 2 no model file.
/// </summary>
internal static class PrefillCommand
{
    /// <summary>Context positions of the default context beyond what the prompt and the generated tokens need, rounded up to this.</summary>
    private const int ContextGranularity = 256;

    /// <summary>The remote tier's default 2 s per call suits an engine; a one-shot command would rather wait than lose a chunk.</summary>
    private static readonly TimeSpan ServerCallTimeout = TimeSpan.FromSeconds(30);

    private static readonly LLamaSeqId Sequence = LLamaSeqId.Zero;

    /// <summary>Everything the command line asked for, checked (except what needs the model).</summary>
    private sealed record Request(
        string Model, string ModelId, string Prompt, string? StoreDirectory, (string Host, int Port)? Server, byte[]? Secret,
        int ChunkTokens, GGMLType CacheType, int? ContextSize, int Generate, bool Json);

    /// <summary>What one run did, as printed.</summary>
    private sealed record Report(
        string Store, string ModelId, string CacheType, uint ContextSize, int ChunkTokens, int PromptTokens, LlamaPrefillResult Prefill,
        LlamaStoreResult Stored, long? RemoteWrites, TimeSpan FirstToken, int[] Generated, string GeneratedText);

    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model") { Description = "The GGUF model file", Required = true, HelpName = "GGUF" };
        Option<string?> prompt = CommonOptions.Prompt("The prompt text (tokenized by the model, BOS first); or --prompt-file");
        var promptFile = new Option<string?>("--prompt-file") { Description = "A UTF-8 file holding the prompt; or --prompt", HelpName = "FILE" };
        var store = new Option<string?>("--store") { Description = "A store directory (created if missing); or --server", HelpName = "DIR" };
        var server = new Option<string?>("--server")
        {
            Description = "A `kvtier serve` server: HOST:PORT. A scratch local store in front of it writes the chunks behind to it; or --store",
            HelpName = "HOST:PORT",
        };
        var tokenFile = new Option<string?>("--token-file") { Description = "With --server: a file holding the shared token", HelpName = "FILE" };
        var chunkTokens = new Option<int>("--chunk-tokens")
        {
            Description = $"Tokens per chunk, 1 to the context size; runs share chunks only when they use the same size. Default: {ChunkKeys.DefaultChunkTokens}",
            DefaultValueFactory = _ => ChunkKeys.DefaultChunkTokens,
            HelpName = "N",
        };
        var modelId = new Option<string?>("--model-id")
        {
            Description = "The model's id in the chunk keys; runs share chunks only under the same id. Default: the GGUF file's name",
            HelpName = "ID",
        };
        var cacheType = new Option<string>("--cache-type")
        {
            Description = "The element type of llama.cpp's KV cache, and so of the stored chunks: f32 or f16. Default: f16",
            DefaultValueFactory = _ => "f16",
            HelpName = "f32|f16",
        };
        var contextSize = new Option<int?>("--context")
        {
            Description = "Context size in tokens, at least the prompt's plus --generate, at most the model's training context. "
                + $"Default: what they need, rounded up to {ContextGranularity} (at most the training context)",
            HelpName = "N",
        };
        var generate = new Option<int>("--generate") { Description = "Greedy tokens to generate after the prompt. Default: 0", DefaultValueFactory = _ => 0, HelpName = "N" };
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object: {store, modelId, cacheType, contextSize, chunkTokens, promptTokens, tokensReused, tokensComputed, chunksReused, "
                + "chunksRejected, tier (memory|disk|remote|null), chunksStored, chunksPresent, tokensNotStored, remoteWrites (null without --server), "
                + "firstTokenMs, generatedTokens, generatedText}",
        };
        var command = new Command("prefill",
            "Evaluate a prompt in llama.cpp with KvTier as its prefix cache: load the longest run of whole chunks the store (or server) holds, evaluate "
            + "the rest, store the chunks it lacks, and print what was reused, the time to the first token and the greedy continuation (--generate)")
        {
            model, prompt, promptFile, store, server, tokenFile, chunkTokens, modelId, cacheType, contextSize, generate, json,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string modelPath = parse.GetValue(model)!;
            Request request = Check(parse.GetValue(prompt), parse.GetValue(promptFile), parse.GetValue(store), parse.GetValue(server),
                parse.GetValue(tokenFile), parse.GetValue(chunkTokens), parse.GetValue(cacheType)!, parse.GetValue(contextSize), parse.GetValue(generate),
                modelPath, parse.GetValue(modelId), parse.GetValue(json));
            if (!File.Exists(modelPath))
                return context.Fail(KvTierCli.ModelMissing, $"--model {modelPath}: no such file.");
            try
            {
                return RunAsync(context, request).GetAwaiter().GetResult();
            }
            catch (RuntimeError e)
            {
                // llama.cpp could not load the file or evaluate: a bad or unsupported model, not a bug here.
                return context.Fail(KvTierCli.Failure, $"{modelPath}: {e.Message}");
            }
        }));
        return command;
    }

    /// <summary>Checks the options that need no model, before anything is loaded or opened.</summary>
    /// <exception cref="ArgumentException">An option is missing, conflicting or out of range (the message names it).</exception>
    /// <exception cref="IOException">The prompt file or token file cannot be read.</exception>
    private static Request Check(string? prompt, string? promptFile, string? store, string? server, string? tokenFile, int chunkTokens,
        string cacheType, int? contextSize, int generate, string model, string? modelId, bool json)
    {
        if ((store is null) == (server is null))
            throw new ArgumentException("kvtier prefill takes --store DIR or --server HOST:PORT (exactly one of them).");
        if (server is not null && tokenFile is null)
            throw new ArgumentException("--server needs --token-file (the server's shared secret).");
        if (server is null && tokenFile is not null)
            throw new ArgumentException("--token-file goes with --server.");
        if (chunkTokens is < 1 or > ChunkKeys.MaxChunkTokens)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--chunk-tokens {chunkTokens} must be between 1 and the context size."));
        if (generate < 0)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--generate {generate} must be 0 or more."));
        if (contextSize is < 1)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--context {contextSize} must be 1 or more."));
        GGMLType type = cacheType.ToLowerInvariant() switch
        {
            "f32" => GGMLType.GGML_TYPE_F32,
            "f16" => GGMLType.GGML_TYPE_F16,
            _ => throw new ArgumentException($"--cache-type {cacheType}: expected f32 or f16 (the types KvTier stores)."),
        };
        if (modelId is { Length: 0 })
            throw new ArgumentException("--model-id must not be empty.");

        if ((prompt is null) == (promptFile is null))
            throw new ArgumentException("kvtier prefill takes --prompt TEXT or --prompt-file FILE (exactly one of them).");
        string text;
        if (promptFile is not null)
        {
            try
            {
                text = File.ReadAllText(promptFile, Encoding.UTF8);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"--prompt-file {promptFile}: cannot read it ({e.Message})", e);
            }
        }
        else
        {
            text = prompt!;
        }
        if (string.IsNullOrWhiteSpace(text))
            throw new ArgumentException(promptFile is null ? "--prompt is empty." : $"--prompt-file {promptFile}: the prompt is empty.");

        (string Host, int Port)? endpoint = null;
        byte[]? secret = null;
        if (server is not null)
        {
            endpoint = RemoteCommand.ParseServer(server);
            secret = SharedSecret.ReadTokenFile(tokenFile!);
        }

        return new Request(model, modelId ?? Path.GetFileName(model), text, store, endpoint, secret, chunkTokens, type, contextSize, generate, json);
    }

    private static async Task<int> RunAsync(CliContext cli, Request request)
    {
        // llama.cpp logs every load to standard error; this command's errors are one line each.
        NativeLogConfig.llama_log_set((level, message) => { });
        using LLamaWeights weights = LLamaWeights.LoadFromFile(Parameters(request, contextSize: 0));
        int[] prompt = [.. weights.Tokenize(request.Prompt, true, false, Encoding.UTF8).Select(t => (int)t)];
        uint contextSize = ContextSize(request, prompt.Length, weights.ContextSize);
        using LLamaContext context = weights.CreateContext(Parameters(request, contextSize));
        var keys = KvTierLlamaCache.CreateKeys(context, request.ModelId, "", request.ChunkTokens);

        // Everything is checked: only now is a store opened (and created).
        if (request.StoreDirectory is { } directory)
        {
            using KvStore store = KvStore.Open(LocalStoreOptions(directory));
            Report report = await PrefillAsync(context, store, keys, prompt, request, directory, remote: false);
            Write(cli.Output, report, request.Json);
            return KvTierCli.Success;
        }

        (string host, int port) = request.Server!.Value;
        string scratch = Directory.CreateTempSubdirectory("kvtier-prefill-").FullName;
        try
        {
            await using var tier = new RemoteTier(new RemoteTierOptions
            {
                Client = new KvCacheClientOptions { Host = host, Port = port, Secret = request.Secret! },
                CallTimeout = ServerCallTimeout,
            });
            using KvStore store = KvStore.Open(LocalStoreOptions(scratch) with { RemoteTier = tier, RemoteWrites = RemoteWritePolicy.WriteBehind });
            string name = string.Create(CultureInfo.InvariantCulture, $"kvtier://{host}:{port}");
            Report report = await PrefillAsync(context, store, keys, prompt, request, name, remote: true);
            StoreStatistics statistics = store.GetStatistics();
            if (statistics.RemoteWritesDropped > 0)
            {
                return cli.Fail(KvTierCli.Failure, string.Create(CultureInfo.InvariantCulture,
                    $"{statistics.RemoteWritesDropped} of {report.Stored.ChunksStored} chunks were not written to {name}")
                    + " (the server refused them, could not be reached, or timed out); another process will not find them there.");
            }
            Write(cli.Output, report, request.Json);
            return KvTierCli.Success;
        }
        finally
        {
            try
            {
                Directory.Delete(scratch, recursive: true);
            }
            catch (IOException)
            {
                // Left for the temp cleaner.
            }
        }
    }

    private static async Task<Report> PrefillAsync(LLamaContext context, KvStore store, ChunkKeys keys, int[] prompt, Request request, string storeName, bool remote)
    {
        await using var prefetcher = new Prefetcher(store, new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance });
        var cache = new KvTierLlamaCache(context, prefetcher, keys);

        long start = Stopwatch.GetTimestamp();
        LlamaPrefillResult prefill = await cache.PrefillAsync(prompt, Sequence);
        _ = GreedySampler.Argmax(prefill.Logits); // timed as an engine samples its first token; GenerateAsync samples it again
        TimeSpan firstToken = Stopwatch.GetElapsedTime(start);

        LlamaStoreResult stored = await cache.StoreAsync(prompt, Sequence);
        long? remoteWrites = null;
        if (remote)
        {
            // Before generating: the point of --server is that the next process finds these chunks.
            await store.FlushRemoteAsync();
            remoteWrites = store.GetStatistics().RemoteWrites;
        }

        int[] generated = await LlamaGreedySampler.GenerateAsync(cache, prefill.Logits, prompt.Length, Sequence, request.Generate);
        return new Report(storeName, keys.Fingerprint.ModelId, request.CacheType == GGMLType.GGML_TYPE_F32 ? "f32" : "f16", context.ContextSize,
            keys.ChunkTokens, prompt.Length, prefill, stored, remoteWrites, firstToken, generated, LlamaRuntime.Text(context, generated));
    }

    private static ModelParams Parameters(Request request, uint contextSize) => new(request.Model)
    {
        ContextSize = contextSize,
        GpuLayerCount = 0,
        TypeK = request.CacheType,
        TypeV = request.CacheType,
        // One attention kernel always, so that the greedy tokens of two runs (and of engines configured alike) agree.
        FlashAttention = false,
        SeqMax = 1,
        BatchSize = Math.Clamp(contextSize, 1u, 512u),
        Threads = LlamaRuntime.Threads,
        BatchThreads = LlamaRuntime.Threads,
    };

    /// <summary>The context size: <c>--context</c>, or what the prompt and the generated tokens need; within the training context.</summary>
    /// <exception cref="ArgumentException">The prompt and generated tokens do not fit, or the chunk is larger than the context.</exception>
    private static uint ContextSize(Request request, int promptTokens, int trainingContext)
    {
        long needed = (long)promptTokens + request.Generate;
        int limit = trainingContext > 0 ? trainingContext : int.MaxValue;
        long size = request.ContextSize ?? Math.Min(limit, (needed + ContextGranularity - 1) / ContextGranularity * ContextGranularity);
        string which = request.ContextSize is null ? $"the model's training context of {limit}" : $"--context {size}";
        if (request.ContextSize > limit)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--context {size} is more than the model's training context of {limit} tokens."));
        if (needed > size)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"The prompt is longer than the context: its {promptTokens} tokens and --generate {request.Generate} need {needed} positions, more than {which}."));
        }
        if (request.ChunkTokens > size)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--chunk-tokens {request.ChunkTokens} must be between 1 and the context size ({size}; see --context): a larger chunk is never stored."));
        }
        return (uint)size;
    }

    private static KvStoreOptions LocalStoreOptions(string directory) => new()
    {
        Directory = directory,
        // One run reads each chunk once: a memory tier would only copy it.
        MemoryCapacityBytes = 0,
        SegmentSizeBytes = 16 * KvStoreOptions.MiB,
        BackgroundCompaction = false,
    };

    private static string Milliseconds(TimeSpan time) => time.TotalMilliseconds.ToString("F2", CultureInfo.InvariantCulture);

    private static void Write(TextWriter o, Report r, bool asJson)
    {
        LlamaPrefillResult p = r.Prefill;
        string? tier = p.Tier?.ToString().ToLowerInvariant();
        if (!asJson)
        {
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# {r.ModelId} ({r.CacheType} cache, context {r.ContextSize}, chunks of {r.ChunkTokens} tokens), store {r.Store}"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"prompt tokens\t{r.PromptTokens}"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reused\t{p.TokensReused} tokens ({p.ChunksReused} chunks, tier {tier ?? "none"})"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"computed\t{p.TokensComputed} tokens"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"chunks rejected\t{p.ChunksRejected}"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"chunks stored\t{r.Stored.ChunksStored} ({r.Stored.ChunksPresent} already present, {r.Stored.TokensNotStored} trailing tokens not in a whole chunk)"));
            if (r.RemoteWrites is { } writes)
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"written to the server\t{writes}"));
            o.WriteLine($"first token ms\t{Milliseconds(r.FirstToken)}");
            if (r.Generated.Length > 0)
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"generated ({r.Generated.Length} tokens)\t{r.GeneratedText.ReplaceLineEndings(" ")}"));
            return;
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("store", r.Store);
            json.WriteString("modelId", r.ModelId);
            json.WriteString("cacheType", r.CacheType);
            json.WriteNumber("contextSize", r.ContextSize);
            json.WriteNumber("chunkTokens", r.ChunkTokens);
            json.WriteNumber("promptTokens", r.PromptTokens);
            json.WriteNumber("tokensReused", p.TokensReused);
            json.WriteNumber("tokensComputed", p.TokensComputed);
            json.WriteNumber("chunksReused", p.ChunksReused);
            json.WriteNumber("chunksRejected", p.ChunksRejected);
            if (tier is null)
                json.WriteNull("tier");
            else
                json.WriteString("tier", tier);
            json.WriteNumber("chunksStored", r.Stored.ChunksStored);
            json.WriteNumber("chunksPresent", r.Stored.ChunksPresent);
            json.WriteNumber("tokensNotStored", r.Stored.TokensNotStored);
            if (r.RemoteWrites is { } writes)
                json.WriteNumber("remoteWrites", writes);
            else
                json.WriteNull("remoteWrites");
            json.WriteNumber("firstTokenMs", Math.Round(r.FirstToken.TotalMilliseconds, 3));
            json.WriteStartArray("generatedTokens");
            foreach (int token in r.Generated)
                json.WriteNumberValue(token);
            json.WriteEndArray();
            json.WriteString("generatedText", r.GeneratedText);
            json.WriteEndObject();
        }
        o.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
