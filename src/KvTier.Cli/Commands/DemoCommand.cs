using System.CommandLine;
using System.Globalization;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Reference;
using Spectre.Console;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier demo</c>: the main job on the embedded default. The reference model reads a handful of prompts;
/// KvTier reports what a cache would hold for them (tokens, chunks, keys, KV bytes per chunk), which chunks a
/// repeated request would find, and checks that continuing from the cached KV gives the logits of a full prefill.
/// Later issues extend it into the full store-and-reuse walk-through.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The demo's requests; the last repeats the first, as a second user asking the same thing would.</summary>
    internal static readonly string[] Prompts =
    [
        "Once upon a time",
        "Lily and Ben went to the park",
        "The little dog was hungry",
        "One day, a big red ball",
        "Once upon a time",
    ];

    private const int DefaultSteps = 512;

    public static Command Create(CliContext context)
    {
        Option<int> steps = CommonOptions.Steps(DefaultSteps);
        Option<int> chunkTokens = CommonOptions.ChunkTokens(ChunkKeys.DefaultChunkTokens);
        var command = new Command("demo", "Run the reference model on a handful of prompts and report what a KV cache would hold") { steps, chunkTokens };
        command.SetAction(parse => context.Guard(() => Run(context, parse, parse.GetValue(steps), parse.GetValue(chunkTokens))));
        return command;
    }

    private static int Run(CliContext context, ParseResult parse, int steps, int chunkTokens)
    {
        IAnsiConsole console = context.Console;
        LlamaModel model = CommonOptions.LoadModel(parse);
        if (steps < 1 || steps > model.Config.SeqLen)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"--steps must be within [1, {model.Config.SeqLen}] (the model's context length).");
        var keys = new ChunkKeys(model.ModelId, model.Layout, chunkTokens: chunkTokens);

        console.MarkupLine($"[bold]KvTier demo[/]: model [green]{Markup.Escape(model.ModelId)}[/] "
            + $"({model.Layout.Layers} layers, {model.Layout.KvHeads} KV heads x {model.Layout.HeadDim}, f32, RoPE theta {model.Layout.Rope.Theta}, adjacent pairs, K after RoPE)");
        console.MarkupLine($"fingerprint [grey]{keys.Fingerprint}[/], chunks of {chunkTokens} tokens, {model.Layout.BytesPerToken:N0} KV bytes per token");

        Request[] requests = RunRequests(console, model, keys, steps);
        ReportChunks(console, model, keys, requests);
        ReportReuse(console, model, keys, requests);
        ReportCodecs(console, model, keys, requests[0]);
        return KvTierCli.Success;
    }

    /// <summary>One prompt run through the model: the tokens whose KV the cache holds, and that KV.</summary>
    private sealed record Request(string Prompt, int[] Tokens, KvCache Cache, ChunkKey[] PrefixKeys);

    private static Request[] RunRequests(IAnsiConsole console, LlamaModel model, ChunkKeys keys, int steps)
    {
        var requests = new Request[Prompts.Length];
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(progress =>
            {
                ProgressTask[] tasks = Prompts
                    .Select((prompt, i) => progress.AddTask(Markup.Escape($"request {i + 1}: \"{prompt}\""), autoStart: false, maxValue: steps))
                    .ToArray();
                for (int i = 0; i < Prompts.Length; i++)
                {
                    tasks[i].StartTask();
                    LlamaSession session = model.CreateSession();
                    var fed = new List<int>(steps);
                    foreach (GenerationStep step in session.GenerateSteps(Prompts[i], steps))
                    {
                        fed.Add(step.Token);
                        tasks[i].Increment(1);
                    }

                    tasks[i].Value = steps;
                    tasks[i].StopTask();
                    int[] tokens = [.. fed];
                    if (!console.Profile.Capabilities.Interactive)
                    {
                        // A live display needs a terminal; elsewhere (logs, pipes) report each request as it finishes.
                        console.MarkupLine(Markup.Escape($"request {i + 1} of {Prompts.Length}: \"{Prompts[i]}\" ran {tokens.Length} positions"));
                    }

                    requests[i] = new Request(Prompts[i], tokens, session.Cache.TakePrefix(session.Cache.Length), keys.PrefixKeys(tokens));
                }
            });
        return requests;
    }

    private static void ReportChunks(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request[] requests)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("What a cache would hold");
        table.AddColumns("request", "tokens", "chunks", "KV bytes (f32)", "first prefix key", "last prefix key", "already cached");
        var seen = new HashSet<ChunkKey>();
        long totalBytes = 0;
        int totalChunks = 0;
        int hits = 0;
        for (int i = 0; i < requests.Length; i++)
        {
            Request r = requests[i];
            TokenChunk[] chunks = keys.Split(r.Tokens.Length);
            int partial = chunks.Count(c => c.IsPartial);
            int found = r.PrefixKeys.Count(k => !seen.Add(k));
            long bytes = r.Tokens.Length * model.Layout.BytesPerToken;
            totalBytes += bytes;
            totalChunks += chunks.Length;
            hits += found;
            table.AddRow(
                Markup.Escape($"{i + 1}: \"{r.Prompt}\""),
                r.Tokens.Length.ToString(CultureInfo.InvariantCulture),
                $"{chunks.Length - partial} full + {partial} partial",
                bytes.ToString("N0", CultureInfo.InvariantCulture),
                Short(r.PrefixKeys[0]),
                Short(r.PrefixKeys[^1]),
                found == 0 ? "-" : $"[green]{found} of {chunks.Length}[/]");
        }

        console.Write(table);
        console.MarkupLine($"{requests.Length} requests: {totalChunks} chunks, {seen.Count} distinct, {totalBytes:N0} KV bytes uncompressed; "
            + $"[green]{hits}[/] chunks a cache would have served ({keys.ChunkTokens * model.Layout.BytesPerToken:N0} bytes per full chunk).");
    }

    /// <summary>
    /// What reuse means to the engine: request 5 repeats request 1, so it loads the KV of request 1's full chunks
    /// and computes only the rest. The logits must equal those of a full prefill.
    /// </summary>
    private static void ReportReuse(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request[] requests)
    {
        Request first = requests[0];
        Request repeat = requests[^1];
        int reusable = 0;
        while (reusable < repeat.PrefixKeys.Length && reusable < first.PrefixKeys.Length
            && repeat.PrefixKeys[reusable] == first.PrefixKeys[reusable] && !keys.Split(repeat.Tokens.Length)[reusable].IsPartial)
        {
            reusable++;
        }

        int cachedPositions = Math.Min(reusable * keys.ChunkTokens, repeat.Tokens.Length - 1);
        if (cachedPositions == 0)
        {
            console.MarkupLine("Reuse check: no full chunk to reuse at this chunk size (use fewer --chunk-tokens or more --steps).");
            return;
        }

        float[] full = model.CreateSession().Prefill(repeat.Tokens).ToArray();
        LlamaSession continued = model.CreateSession();
        float[] reused = continued.Prefill(repeat.Tokens, first.Cache.TakePrefix(cachedPositions)).ToArray();
        float maxDelta = 0;
        for (int i = 0; i < full.Length; i++)
            maxDelta = Math.Max(maxDelta, Math.Abs(full[i] - reused[i]));

        console.MarkupLine($"Reuse check: request {requests.Length} loaded {cachedPositions} cached positions ({reusable} {(reusable == 1 ? "chunk" : "chunks")}) and computed "
            + $"{continued.ForwardCount} of {repeat.Tokens.Length} positions; max |logit difference| against a full prefill = {maxDelta:G3}"
            + (maxDelta <= 1e-5f ? " [green](identical within 1e-5)[/]" : " [red](DIFFERS)[/]"));
    }

    /// <summary>
    /// What storing a chunk costs under each codec and level, and what it costs the model: request 1's first chunk is
    /// encoded as a record, decoded, and the model continues from the decoded KV over the following positions
    /// (mean KL of its next-token distributions against the exact KV, and whether its greedy continuation is unchanged).
    /// </summary>
    private static void ReportCodecs(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request request)
    {
        int chunkTokens = Math.Min(keys.ChunkTokens, request.Tokens.Length - 2);
        int following = Math.Min(32, request.Tokens.Length - chunkTokens - 1);
        if (chunkTokens < 1 || following < 1)
        {
            console.MarkupLine("Codecs: request 1 is too short to measure (use more --steps).");
            return;
        }

        KvCache exact = request.Cache.TakePrefix(chunkTokens);
        float[][] reference = ContinuationQuality.NextTokenDistributions(model, exact, request.Tokens, chunkTokens, following);
        var metadata = new ChunkRecordMetadata(keys.Fingerprint, request.PrefixKeys[0]);
        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"Request 1's first chunk ({chunkTokens} tokens) under each codec; quality over the next {following} positions"));
        table.AddColumns("codec", "record bytes", "bits/element", "vs raw f32", "mean KL", "greedy continuation");
        long rawBytes = 0;
        foreach (CodecInfo codec in ChunkCodecs.All)
        {
            for (int level = codec.MinLevel; level <= codec.MaxLevel; level++)
            {
                byte[] record = ChunkRecordWriter.Encode(KvCacheChunks.ToChunk(exact, 0, chunkTokens, model.Layout), metadata, codec.Id, level);
                var decoded = new KvCache(exact.Layers, exact.KvDim, model.Config.SeqLen);
                KvCacheChunks.LoadInto(ChunkRecord.Parse(record).Decode(), decoded, 0);
                double kl = ContinuationQuality.MeanKl(reference, ContinuationQuality.NextTokenDistributions(model, decoded, request.Tokens, chunkTokens, following));
                bool same = ContinuationQuality.GreedyMatches(model, decoded, request.Tokens, chunkTokens, following);
                if (codec.Id == CodecId.Raw)
                    rawBytes = record.Length;
                double elements = 2.0 * model.Layout.Layers * chunkTokens * model.Layout.KvDim;
                table.AddRow(
                    codec.MinLevel == codec.MaxLevel ? codec.Name : $"{codec.Name} {level}{(level == codec.DefaultLevel ? " (default)" : "")}",
                    record.Length.ToString("N0", CultureInfo.InvariantCulture),
                    (record.Length * 8 / elements).ToString("F2", CultureInfo.InvariantCulture),
                    $"{rawBytes / (double)record.Length:F2}x",
                    kl.ToString("E2", CultureInfo.InvariantCulture),
                    same ? "[green]identical[/]" : "[yellow]differs[/]");
            }
        }

        console.Write(table);
    }

    private static string Short(ChunkKey key) => key.ToString()[..12] + "…";
}
