using System.CommandLine;
using System.Globalization;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Reference;
using KvTier.Storage;
using Spectre.Console;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier demo</c>: the main job on the embedded default. The reference model reads a handful of prompts;
/// KvTier reports what a cache would hold for them (tokens, chunks, keys, KV bytes per chunk), stores their KV in a
/// <see cref="KvStore"/> (a directory under the user's cache folder unless <c>--store</c>), reopens it and serves the
/// requests again from it (the longest stored prefix of each, which tier served each chunk, bytes read), and checks
/// that continuing from the KV read back from the store gives the logits of a full prefill.
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

    /// <summary>
    /// The codec of the records the demo stores: lossless, so that KV read back from the store continues a request
    /// exactly as the KV that was computed (the codec table below shows what the lossy codecs would cost).
    /// </summary>
    private const CodecId StoreCodec = CodecId.Raw;

    public static Command Create(CliContext context)
    {
        Option<int> steps = CommonOptions.Steps(DefaultSteps);
        Option<int> chunkTokens = CommonOptions.ChunkTokens(ChunkKeys.DefaultChunkTokens);
        var store = new Option<string?>("--store")
        {
            Description = "The store directory the demo keeps its chunks in (created when missing; a second run finds them there). "
                + "Default: $XDG_CACHE_HOME/kvtier/demo-store, else ~/.cache/kvtier/demo-store",
            HelpName = "DIR",
        };
        var command = new Command("demo",
            "Run the reference model on a handful of prompts, report what a KV cache would hold, store the chunks, reopen the store and serve "
            + "the requests from it (prefix hits per tier, bytes read), and check that continuing from the stored KV equals a full prefill")
        {
            steps, chunkTokens, store,
        };
        command.SetAction(parse => context.Guard(() => Run(context, parse, parse.GetValue(steps), parse.GetValue(chunkTokens), parse.GetValue(store))));
        return command;
    }

    /// <summary>
    /// The demo's store when <c>--store</c> is not given: <c>$XDG_CACHE_HOME/kvtier/demo-store</c> (an absolute
    /// XDG_CACHE_HOME only, as the XDG base directory spec says), else <c>HOME/.cache/kvtier/demo-store</c>, else a
    /// folder under the temp directory.
    /// </summary>
    internal static string DefaultStoreDirectory(Func<string, string?> environment, string? home)
    {
        string? cache = environment("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache) || !Path.IsPathRooted(cache))
            cache = string.IsNullOrEmpty(home) ? Path.GetTempPath() : Path.Combine(home, ".cache");
        return Path.Combine(cache, "kvtier", "demo-store");
    }

    private static int Run(CliContext context, ParseResult parse, int steps, int chunkTokens, string? storeDirectory)
    {
        IAnsiConsole console = context.Console;
        LlamaModel model = CommonOptions.LoadModel(parse);
        if (steps < 1 || steps > model.Config.SeqLen)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"--steps must be within [1, {model.Config.SeqLen}] (the model's context length).");
        var keys = new ChunkKeys(model.ModelId, model.Layout, chunkTokens: chunkTokens);
        string directory = Path.GetFullPath(storeDirectory
            ?? DefaultStoreDirectory(Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)));

        console.MarkupLine($"[bold]KvTier demo[/]: model [green]{Markup.Escape(model.ModelId)}[/] "
            + $"({model.Layout.Layers} layers, {model.Layout.KvHeads} KV heads x {model.Layout.HeadDim}, f32, RoPE theta {model.Layout.Rope.Theta}, adjacent pairs, K after RoPE)");
        console.MarkupLine($"fingerprint [grey]{keys.Fingerprint}[/], chunks of {chunkTokens} tokens, {model.Layout.BytesPerToken:N0} KV bytes per token");

        Request[] requests;
        using (KvStore store = KvStore.Open(DemoStoreOptions(directory))) // First: a locked or foreign directory fails before the model runs.
        {
            requests = RunRequests(console, model, keys, steps);
            ReportChunks(console, model, keys, requests);
            ReportFirstPass(console, model, keys, requests, store);
        }

        StoreWalk repeat = ReportAfterReopen(console, model, keys, requests, directory);
        ReportReuse(console, model, keys, requests, repeat);
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
    /// The demo's store: small segments and a bounded disk tier, since it lives in the user's cache folder and only
    /// ever holds a few megabytes; a memory tier, so that a request repeated in one run is served from memory.
    /// </summary>
    private static KvStoreOptions DemoStoreOptions(string directory) => new()
    {
        Directory = directory,
        MemoryCapacityBytes = 64 * KvStoreOptions.MiB,
        DiskCapacityBytes = 1024 * KvStoreOptions.MiB,
        SegmentSizeBytes = 16 * KvStoreOptions.MiB,
    };

    /// <summary>
    /// What one request found in the store: its longest stored prefix (in chunks, as far as it could be read), which
    /// tier served those chunks, the record bytes read, what it stored, and the KV of that prefix decoded from the
    /// records.
    /// </summary>
    private sealed record StoreWalk(int Chunks, int Found, int FullFound, int FromMemory, int FromDisk, long BytesRead, int Stored, long BytesWritten, KvCache Loaded);

    /// <summary>
    /// The first pass over the store: each request looks up its longest stored prefix, loads it and stores the chunks it
    /// lacks, durably, before the next request comes (so that request 5 finds request 1's chunks).
    /// </summary>
    private static void ReportFirstPass(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request[] requests, KvStore store)
    {
        long atOpen = store.GetStatistics().Entries;
        var walks = new StoreWalk[requests.Length];
        for (int i = 0; i < requests.Length; i++)
            walks[i] = Walk(store, model, keys, requests[i], storeMissing: true);
        console.MarkupLine($"Store [grey]{Markup.Escape(store.Options.Directory)}[/]: {atOpen:N0} records at open; "
            + $"chunks are stored as {ChunkCodecs.Get(StoreCodec).Name} records (lossless)");
        WriteWalkTable(console, requests, walks, "Store, first pass: load the longest stored prefix, store the rest", withWrites: true);
        int stored = walks.Sum(w => w.Stored);
        string written = stored == 0 ? "" : $" ({walks.Sum(w => w.BytesWritten):N0} bytes, each durable before the next request)";
        console.MarkupLine($"First pass: [green]{walks.Sum(w => w.Found)} of {walks.Sum(w => w.Chunks)} chunks found in the store[/] "
            + $"({Tiers(walks.Sum(w => w.FromMemory), walks.Sum(w => w.FromDisk))}, {walks.Sum(w => w.BytesRead):N0} bytes read); "
            + $"{stored} chunks stored{written}; the store holds {store.GetStatistics().Entries:N0} records.");
    }

    /// <summary>
    /// Reopens the store, as a new process would find it (what the index and the segment files hold, an empty memory
    /// tier), and serves every request from it. Returns the walk of the last request, a repeat of the first.
    /// </summary>
    private static StoreWalk ReportAfterReopen(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request[] requests, string directory)
    {
        using KvStore store = KvStore.Open(DemoStoreOptions(directory));
        StoreStatistics opened = store.GetStatistics();
        var walks = new StoreWalk[requests.Length];
        for (int i = 0; i < requests.Length; i++)
            walks[i] = Walk(store, model, keys, requests[i], storeMissing: false);
        WriteWalkTable(console, requests, walks, "After closing and reopening the store", withWrites: false);
        StoreStatistics served = store.GetStatistics();
        console.MarkupLine($"After the reopen ({opened.Entries:N0} records in {opened.Segments} {(opened.Segments == 1 ? "segment" : "segments")}): "
            + $"[green]{walks.Sum(w => w.Found)} of {walks.Sum(w => w.Chunks)} chunks found in the store[/] "
            + $"({Tiers(walks.Sum(w => w.FromMemory), walks.Sum(w => w.FromDisk))}, {walks.Sum(w => w.BytesRead):N0} bytes read); "
            + $"store counters: {served.MemoryHits} memory hits, {served.DiskHits} disk hits, {served.Misses} misses.");
        return walks[^1];
    }

    private static StoreWalk Walk(KvStore store, LlamaModel model, ChunkKeys keys, Request request, bool storeMissing)
    {
        TokenChunk[] chunks = keys.Split(request.Tokens.Length);
        int longest = store.LongestPrefix(request.PrefixKeys);
        var loaded = new KvCache(model.Layout.Layers, model.Layout.KvDim, model.Config.SeqLen);
        int found = 0, fullFound = 0, fromMemory = 0, fromDisk = 0;
        long bytesRead = 0;
        for (; found < longest; found++)
        {
            // A chunk evicted or found corrupt since the lookup ends the usable prefix here.
            if (!store.TryGet(request.PrefixKeys[found], out RecordLease? lease))
                break;
            using (lease)
            {
                if (lease.Tier == StoreTier.Memory)
                    fromMemory++;
                else
                    fromDisk++;
                bytesRead += lease.Bytes.Length;
                KvCacheChunks.LoadInto(lease.Record.Decode(), loaded, chunks[found].Start);
            }

            if (!chunks[found].IsPartial)
                fullFound++;
        }

        var records = new List<ReadOnlyMemory<byte>>();
        long bytesWritten = 0;
        if (storeMissing)
        {
            for (int j = found; j < chunks.Length; j++)
            {
                if (store.Contains(request.PrefixKeys[j]))
                    continue;
                TokenChunk chunk = chunks[j];
                byte[] record = ChunkRecordWriter.Encode(
                    KvCacheChunks.ToChunk(request.Cache, chunk.Start, chunk.Count, model.Layout),
                    new ChunkRecordMetadata(keys.Fingerprint, request.PrefixKeys[j], ChunkKeyKind.Prefix, chunk.Start),
                    StoreCodec,
                    ChunkCodecs.Get(StoreCodec).DefaultLevel);
                records.Add(record);
                bytesWritten += record.Length;
            }

            if (records.Count > 0)
                store.PutBatch(records); // One group commit for the request's chunks.
        }

        return new StoreWalk(chunks.Length, found, fullFound, fromMemory, fromDisk, bytesRead, records.Count, bytesWritten, loaded);
    }

    private static void WriteWalkTable(IAnsiConsole console, Request[] requests, StoreWalk[] walks, string title, bool withWrites)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title));
        table.AddColumns("request", "stored prefix found", "served by", "bytes read");
        if (withWrites)
            table.AddColumns("chunks stored", "bytes written");
        for (int i = 0; i < walks.Length; i++)
        {
            StoreWalk w = walks[i];
            var row = new List<string>
            {
                Markup.Escape($"{i + 1}: \"{requests[i].Prompt}\""),
                w.Found == 0 ? $"0 of {w.Chunks}" : $"[green]{w.Found} of {w.Chunks}[/]",
                w.Found == 0 ? "-" : Tiers(w.FromMemory, w.FromDisk),
                w.BytesRead.ToString("N0", CultureInfo.InvariantCulture),
            };
            if (withWrites)
            {
                row.Add(w.Stored.ToString(CultureInfo.InvariantCulture));
                row.Add(w.BytesWritten.ToString("N0", CultureInfo.InvariantCulture));
            }

            table.AddRow(row.ToArray());
        }

        console.Write(table);
    }

    private static string Tiers(int memory, int disk) => (memory, disk) switch
    {
        (0, 0) => "none",
        (_, 0) => $"memory tier {memory}",
        (0, _) => $"disk tier {disk}",
        _ => $"memory tier {memory}, disk tier {disk}",
    };

    /// <summary>
    /// What reuse means to the engine: request 5 repeats request 1, so it continues from the KV of its full chunks as
    /// read back from the reopened store and computes only the rest. The logits must equal those of a full prefill.
    /// </summary>
    private static void ReportReuse(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request[] requests, StoreWalk stored)
    {
        Request repeat = requests[^1];
        int reusable = stored.FullFound;
        int cachedPositions = Math.Min(reusable * keys.ChunkTokens, repeat.Tokens.Length - 1);
        if (cachedPositions == 0)
        {
            console.MarkupLine("Reuse check: no full chunk to reuse from the store at this chunk size (use fewer --chunk-tokens or more --steps).");
            return;
        }

        float[] full = model.CreateSession().Prefill(repeat.Tokens).ToArray();
        LlamaSession continued = model.CreateSession();
        float[] reused = continued.Prefill(repeat.Tokens, stored.Loaded.TakePrefix(cachedPositions)).ToArray();
        float maxDelta = 0;
        for (int i = 0; i < full.Length; i++)
            maxDelta = Math.Max(maxDelta, Math.Abs(full[i] - reused[i]));

        console.MarkupLine($"Reuse check: request {requests.Length} loaded {cachedPositions} cached positions ({reusable} {(reusable == 1 ? "chunk" : "chunks")}) and computed "
            + $"{continued.ForwardCount} of {repeat.Tokens.Length} positions, continuing from KV decoded from the reopened store; "
            + $"max |logit difference| against a full prefill = {maxDelta:G3}"
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
