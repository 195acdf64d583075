using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using KvTier.Cli.Llama;
using KvTier.LlamaSharp;
using KvTier.Prefetch;
using KvTier.Prefetch.Decoding;
using KvTier.Reference;
using KvTier.Storage;
using LLama;
using LLama.Common;
using LLama.Native;
using Spectre.Console;

namespace KvTier.Cli.Commands;

// The LLamaSharp walk-through (issue 8 §4): a multi-turn conversation in one llama.cpp context with KvTier as its prefix
// cache. Each turn's prompt is the whole conversation so far plus a new user line; the turns before it come from KvTier.
internal static partial class DemoCommand
{
    // Small enough that every turn's prompt starts with whole chunks an earlier turn stored.
    private const int LlamaChunkTokens = 32;
    // Long enough that the last turn's prompt (about 320 tokens) costs the engine clearly more than the few tokens after
    // its stored chunks: on a model this small, a short prompt evaluates in about the time a load takes.
    private const int LlamaReplyTokens = 80;
    private const int LlamaTimedRuns = 3;
    private const uint LlamaContextSize = 512;
    private const string LlamaNamespace = "demo-chat";

    // One sequence: each timed run starts from an empty one, with or without KvTier, and the last cached run goes on to
    // the reply. (A second sequence would halve what each may hold: llama.cpp splits the context between them.)
    private static readonly LLamaSeqId Sequence = LLamaSeqId.Zero;

    /// <summary>The user's lines; the model is a TinyStories model, so the conversation is a story the user steers.</summary>
    internal static readonly string[] LlamaTurns =
    [
        "Once upon a time, there was a little girl named Lily.",
        "\nLily said, \"Can we go to the park?\"",
        "\nMom said, \"Yes, but first eat your lunch.\"",
        "\nLily said, \"I will share my apple with Ben.\"",
    ];

    /// <summary>
    /// Runs the conversation through LLamaSharp when the models directory holds the GGUF file of the model; its chunks are
    /// kept in a store of their own beside the demo's (<c>DIR-llama</c> for <c>--store DIR</c>), so that the demo's store
    /// holds only the reference model's records.
    /// </summary>
    private static void ReportLlama(IAnsiConsole console, ParseResult parse, string demoDirectory)
    {
        string gguf = Path.Combine(ModelDirectory.Locate(parse.GetValue(CommonOptions.Models)), ModelDirectory.DefaultModelName, "stories260K.gguf");
        console.WriteLine();
        if (!File.Exists(gguf))
        {
            console.MarkupLine($"LLamaSharp walk-through skipped: no [grey]{Markup.Escape(gguf)}[/].");
            return;
        }

        string directory = Path.Combine(Path.GetDirectoryName(demoDirectory) ?? demoDirectory, Path.GetFileName(demoDirectory) + "-llama");
        ReportLlamaAsync(console, gguf, directory).GetAwaiter().GetResult();
    }

    /// <summary>One turn: what the prefill reused and evaluated, the time to the first token both ways, both replies.</summary>
    private sealed record LlamaTurn(int PromptTokens, LlamaPrefillResult Prefill, TimeSpan FirstTokenCached, TimeSpan FirstTokenUncached,
        int[] Reply, int[] UncachedReply, LlamaStoreResult Stored);

    private static async Task ReportLlamaAsync(IAnsiConsole console, string gguf, string directory)
    {
        var parameters = new ModelParams(gguf)
        {
            ContextSize = LlamaContextSize,
            GpuLayerCount = 0,
            SeqMax = 1,
            BatchSize = LlamaContextSize,
            // llama.cpp's CPU flash attention ("auto" turns it on) evaluates a few tokens after a long cached prefix about
            // as slowly as the whole prompt on this model, which would hide what the cache saves; off, as in kvtier prefill
            // and bench/KvTier.E2eBench.
            FlashAttention = false,
            Threads = LlamaRuntime.Threads, // half the cores (why: LlamaRuntime.Threads)
            BatchThreads = LlamaRuntime.Threads,
        };
        NativeLogConfig.llama_log_set((level, message) => { }); // llama.cpp's loading log would interleave with the tables
        using LLamaWeights weights = LLamaWeights.LoadFromFile(parameters);
        using LLamaContext context = weights.CreateContext(parameters);
        using KvStore store = KvStore.Open(DemoStoreOptions(directory));
        await using var prefetcher = new Prefetcher(store, new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance });
        var cache = new KvTierLlamaCache(context, prefetcher,
            KvTierLlamaCache.CreateKeys(context, Path.GetFileName(gguf), LlamaNamespace, LlamaChunkTokens));

        console.MarkupLine($"[bold]LLamaSharp walk-through[/]: [green]{Markup.Escape(Path.GetFileName(gguf))}[/] in llama.cpp (LLamaSharp, CPU, "
            + $"{LlamaRuntime.Threads} thread{(LlamaRuntime.Threads == 1 ? "" : "s")}, flash attention off), "
            + $"KvTier as its prefix cache (chunks of {LlamaChunkTokens} tokens, store [grey]{Markup.Escape(directory)}[/], "
            + $"{store.GetStatistics().Entries:N0} records at open). Each turn's prompt is the conversation so far plus a new line; "
            + $"the reply is {LlamaReplyTokens} greedy tokens.");

        // Before timing anything, one round trip of every path in a throwaway namespace (evaluate, store, load from the
        // store), so that neither column pays for llama.cpp's or .NET's first-call setup. (kvtier runs with quick JIT
        // off, so the load path's .NET code is optimized from its first call, as a warmed-up service's is.)
        var warmUp = new KvTierLlamaCache(context, prefetcher,
            KvTierLlamaCache.CreateKeys(context, Path.GetFileName(gguf), LlamaNamespace + "-warm-up", LlamaChunkTokens));
        int[] warmUpPrompt = [.. context.Tokenize(LlamaTurns[0] + " " + LlamaTurns[1], addBos: true).Select(t => (int)t)];
        for (int i = 0; i < LlamaTimedRuns; i++)
        {
            cache.ClearSequence(Sequence);
            await warmUp.PrefillAsync(warmUpPrompt, Sequence);
            await warmUp.StoreAsync(warmUpPrompt, Sequence);
        }

        var conversation = new List<int>();
        var turns = new LlamaTurn[LlamaTurns.Length];
        for (int t = 0; t < LlamaTurns.Length; t++)
        {
            foreach (LLamaToken token in context.Tokenize(LlamaTurns[t], addBos: t == 0))
                conversation.Add((int)token);
            int[] prompt = [.. conversation];

            // Without a cache: the prompt evaluated from an empty sequence (median of a few runs), then its reply.
            var uncachedTimes = new TimeSpan[LlamaTimedRuns];
            float[] logits = [];
            for (int run = 0; run < LlamaTimedRuns; run++)
            {
                cache.ClearSequence(Sequence);
                long start = Stopwatch.GetTimestamp();
                logits = await cache.EvaluateAsync(prompt, 0, Sequence);
                _ = GreedySampler.Argmax(logits);
                uncachedTimes[run] = Stopwatch.GetElapsedTime(start);
            }

            int[] uncachedReply = await LlamaGreedySampler.GenerateAsync(cache, logits, prompt.Length, Sequence, LlamaReplyTokens);

            // With KvTier: the earlier turns' chunks are loaded, only the rest is evaluated (median of a few runs; each
            // starts from an empty sequence, and the last one goes on to the reply).
            var cachedTimes = new TimeSpan[LlamaTimedRuns];
            LlamaPrefillResult prefill = null!;
            for (int run = 0; run < LlamaTimedRuns; run++)
            {
                long start = Stopwatch.GetTimestamp();
                prefill = await cache.PrefillAsync(prompt, Sequence); // empties the sequence first
                _ = GreedySampler.Argmax(prefill.Logits);
                cachedTimes[run] = Stopwatch.GetElapsedTime(start);
            }

            TimeSpan uncachedFirst = Median(uncachedTimes);
            TimeSpan cachedFirst = Median(cachedTimes);
            int[] reply = await LlamaGreedySampler.GenerateAsync(cache, prefill.Logits, prompt.Length, Sequence, LlamaReplyTokens);

            // The sequence now holds the prompt and the reply: store the chunks the store lacks for the next turn.
            conversation.AddRange(reply);
            LlamaStoreResult stored = await cache.StoreAsync(conversation.ToArray(), Sequence);
            turns[t] = new LlamaTurn(prompt.Length, prefill, cachedFirst, uncachedFirst, reply, uncachedReply, stored);
        }

        var table = new Table().Border(TableBorder.Rounded).Title("A conversation in one LLamaSharp context, KvTier as its prefix cache");
        table.AddColumns("turn", "prompt", "reused", "evaluated", "1st token ms", "no cache ms", "reply", "stored");
        for (int t = 0; t < turns.Length; t++)
        {
            LlamaTurn turn = turns[t];
            table.AddRow(
                (t + 1).ToString(CultureInfo.InvariantCulture),
                turn.PromptTokens.ToString(CultureInfo.InvariantCulture),
                turn.Prefill.TokensReused == 0 ? "0" : $"[green]{turn.Prefill.TokensReused}[/] ({turn.Prefill.Tier?.ToString().ToLowerInvariant()})",
                turn.Prefill.TokensComputed.ToString(CultureInfo.InvariantCulture),
                Milliseconds(turn.FirstTokenCached),
                Milliseconds(turn.FirstTokenUncached),
                turn.Reply.AsSpan().SequenceEqual(turn.UncachedReply) ? "[green]identical[/]" : "[red]DIFFERS[/]",
                turn.Stored.ChunksStored.ToString(CultureInfo.InvariantCulture));
        }

        console.Write(table);
        LlamaTurn lastTurn = turns[^1];
        console.MarkupLine($"Turn {turns.Length}: [grey]{Markup.Escape(LlamaTurns[^1].Trim())}[/] {Markup.Escape(LlamaText(context, lastTurn.Reply))}");
        double ratio = lastTurn.FirstTokenCached / lastTurn.FirstTokenUncached;
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"Turn {turns.Length}'s first token took {ratio:F2}x the time of evaluating its whole prompt of {lastTurn.PromptTokens} tokens (medians of {LlamaTimedRuns} runs): KvTier loaded {lastTurn.Prefill.TokensReused} of them and llama.cpp evaluated "
            + $"{lastTurn.Prefill.TokensComputed}. ")
            + "bench/results/e2e.json measures each tier (memory, disk, kvtier serve) on prompts up to 481 tokens, with a projection "
            + "for an 8B-class model.");
    }


    private static TimeSpan Median(TimeSpan[] times)
    {
        TimeSpan[] sorted = [.. times.Order()];
        return sorted[sorted.Length / 2];
    }

    private static string LlamaText(LLamaContext context, IEnumerable<int> tokens) => LlamaRuntime.Text(context, tokens).Replace('\n', ' ').Trim();
}
