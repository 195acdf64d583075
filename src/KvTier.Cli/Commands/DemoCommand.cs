using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Prefetch.Decoding;
using KvTier.Reference;
using KvTier.Storage;
using Spectre.Console;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier demo</c>: the main job on the embedded default. The reference model reads a handful of prompts;
/// KvTier reports what a cache would hold for them (tokens, chunks, keys, KV bytes per chunk), stores their KV in a
/// <see cref="KvStore"/> (a directory under the user's cache folder unless <c>--store</c>), reopens it and serves the
/// requests again from it (the longest stored prefix of each, which tier served each chunk, bytes read), loads each
/// request's stored prefix through the <see cref="Prefetcher"/> (when each layer was ready, and how much of the load a
/// layer-by-layer engine need not wait for), and checks that continuing from the KV the prefetcher delivered gives the
/// logits of a full prefill.
/// </summary>
internal static partial class DemoCommand
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
        var shared = new Option<bool>("--shared")
        {
            Description = "Instead: two instances share one cache server. Instance A computes the prompts and stores their KV, written behind to the "
                + "server; instance B, with an empty store of its own, loads the prefixes from the server and continues from them. Starts a "
                + "server in this process over a scratch store unless --server names one",
        };
        var server = new Option<string?>("--server")
        {
            Description = "With --shared: the kvtier serve server to share through (HOST:PORT; needs --token-file)",
            HelpName = "HOST:PORT",
        };
        var tokenFile = new Option<string?>("--token-file")
        {
            Description = "With --server: the file holding the server's shared secret",
            HelpName = "FILE",
        };
        var command = new Command("demo",
            "Run the reference model on a handful of prompts, report what a KV cache would hold, store the chunks, reopen the store and serve "
            + "the requests from it (prefix hits per tier, bytes read), load the stored prefixes through the prefetcher (per-layer readiness), "
            + "and check that continuing from the prefetched KV equals a full prefill; with --shared, two instances share one cache server")
        {
            steps, chunkTokens, store, shared, server, tokenFile,
        };
        command.SetAction(parse => context.Guard(() => parse.GetValue(shared)
            ? RunShared(context, parse, parse.GetValue(steps), parse.GetValue(chunkTokens), parse.GetValue(server), parse.GetValue(tokenFile))
            : Run(context, parse, parse.GetValue(steps), parse.GetValue(chunkTokens), parse.GetValue(store))));
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

        ReportAfterReopen(console, model, keys, requests, directory);
        PrefetchedPrefix[] prefetched = ReportPrefetch(console, model, keys, requests, directory);
        ReportReuse(console, model, keys, requests, prefetched[^1]);
        ReportCodecs(console, model, keys, requests[0]);
        ReportBlend(console, model, directory);
        ReportLlama(console, parse, directory);
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
    /// tier served those chunks, the record bytes read, and what it stored.
    /// </summary>
    private sealed record StoreWalk(int Chunks, int Found, int FromMemory, int FromDisk, long BytesRead, int Stored, long BytesWritten);

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
    /// tier), and serves every request from it.
    /// </summary>
    private static void ReportAfterReopen(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request[] requests, string directory)
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
    }

    private static StoreWalk Walk(KvStore store, LlamaModel model, ChunkKeys keys, Request request, bool storeMissing)
    {
        TokenChunk[] chunks = keys.Split(request.Tokens.Length);
        int longest = store.LongestPrefix(request.PrefixKeys);
        int found = 0, fromMemory = 0, fromDisk = 0;
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
            }
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

        return new StoreWalk(chunks.Length, found, fromMemory, fromDisk, bytesRead, records.Count, bytesWritten);
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
    /// One request's stored prefix as the prefetcher delivered it: the leading chunks whose every layer arrived, when each
    /// layer was ready (from the start of the request), and the KV.
    /// </summary>
    private sealed record PrefetchedPrefix(int Loaded, TimeSpan[] LayerReady, KvDestination Destination)
    {
        /// <summary>Until the last layer was in the destination: the whole load.</summary>
        public TimeSpan WholeLoad => LayerReady[^1];

        /// <summary>The first <paramref name="positions"/> token rows of every layer, copied into a cache the model continues from.</summary>
        public KvCache ToCache(int positions, int capacity)
        {
            var cache = new KvCache(Destination.Layers, Destination.KvDim, capacity);
            int values = positions * Destination.KvDim;
            for (int layer = 0; layer < Destination.Layers; layer++)
            {
                cache.Load(layer, Destination.Section(layer, SectionKind.Keys).Span[..values], Destination.Section(layer, SectionKind.Values).Span[..values]);
            }

            cache.SetLength(positions);
            return cache;
        }
    }

    /// <summary>
    /// Loads every request's stored prefix through a <see cref="Prefetcher"/> from the store opened once more (an empty
    /// memory tier, so every section is read from its segment file's map and checked there, as at an engine's start),
    /// and reports when each layer was ready: layers arrive in order, so an engine computing layer by layer starts layer 0
    /// at its readiness time instead of after the whole load. Returns the loads, in request order.
    /// </summary>
    private static PrefetchedPrefix[] ReportPrefetch(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request[] requests, string directory)
    {
        using KvStore store = KvStore.Open(DemoStoreOptions(directory));
        // The decoder automatic placement would choose (a GPU when there is one), timed; this method owns it.
        ISectionDecoder placed = SectionDecoders.Best();
        try
        {
            var timing = new LayerTimingDecoder(placed);
            // Prefix keys: nothing after a missing chunk is reusable, so loading it would only cost I/O and decode.
            using var prefetcher = new Prefetcher(store, new PrefetcherOptions { SkipChunksAfterMissing = true, Decoder = timing });

            // One untimed load first, so that the times below are the pipeline's, not first-use costs (JIT, thread pool).
            Load(prefetcher, timing, model, keys, requests[0]);
            var loads = new PrefetchedPrefix[requests.Length];
            for (int i = 0; i < requests.Length; i++)
                loads[i] = LoadMedian(prefetcher, timing, model, keys, requests[i]);
            WritePrefetchTable(console, requests, loads, prefetcher, placed);
            return loads;
        }
        finally
        {
            (placed as IDisposable)?.Dispose(); // After the prefetcher, which may still hold staging memory registered with it.
        }
    }

    private static void WritePrefetchTable(IAnsiConsole console, Request[] requests, PrefetchedPrefix[] loads, Prefetcher prefetcher, ISectionDecoder placed)
    {
        int layers = loads[0].LayerReady.Length;
        string decoder = DecoderName(placed);
        var table = new Table().Border(TableBorder.Rounded).Title("Prefetch: each request's stored prefix, layer by layer, into a KV buffer");
        table.AddColumns("request", "chunks loaded", "decoder", "layer 0 ready", LayerTimesHeading(layers), "whole load", "layer 0 at");
        for (int i = 0; i < loads.Length; i++)
        {
            PrefetchedPrefix load = loads[i];
            int chunks = requests[i].PrefixKeys.Length;
            double share = load.WholeLoad > TimeSpan.Zero ? load.LayerReady[0] / load.WholeLoad : 1;
            table.AddRow(
                (i + 1).ToString(CultureInfo.InvariantCulture), // By number: the prompts are in the tables above, and this table is wide already.
                load.Loaded == 0 ? $"0 of {chunks}" : $"[green]{load.Loaded} of {chunks}[/]",
                Markup.Escape(decoder),
                Milliseconds(load.LayerReady[0]) + " ms",
                LayerTimes(load.LayerReady),
                Milliseconds(load.WholeLoad) + " ms",
                share.ToString("P0", CultureInfo.InvariantCulture));
        }

        console.Write(table);
        console.MarkupLine($"Overlap: \"layer 0 at\" is layer 0's readiness as a share of the whole load (start to last layer ready): an engine "
            + $"computing layer by layer waits that long instead of the whole load, and the rest of the load can run under its compute. A layer is "
            + $"ready when its last section and every earlier layer's are decoded ({decoder} decoder, {prefetcher.Options.DecodeParallelism} decode "
            + $"workers per request; each request's median of {TimedLoads} loads, after one untimed warm-up load).");
        PrefetcherStatistics statistics = prefetcher.GetStatistics();
        console.MarkupLine($"Prefetcher: {statistics.Requests} requests (with the warm-up and repeats), {statistics.SectionsStaged:N0} sections read and checked and "
            + $"{statistics.SectionsDecoded:N0} decoded, {statistics.BackpressureWaits} backpressure waits, {statistics.CorruptChunks} corrupt chunks; "
            + $"{statistics.StagingRentedBytes:N0} bytes of staging still rented.");
    }

    // Loads per request; the one with the median whole-load time is reported, so that one preempted run does not stand for the pipeline.
    private const int TimedLoads = 3;

    /// <summary>Loads the request's stored prefix <see cref="TimedLoads"/> times and returns the load with the median whole-load time.</summary>
    private static PrefetchedPrefix LoadMedian(Prefetcher prefetcher, LayerTimingDecoder timing, LlamaModel model, ChunkKeys keys, Request request)
    {
        var loads = new PrefetchedPrefix[TimedLoads];
        for (int i = 0; i < loads.Length; i++)
            loads[i] = Load(prefetcher, timing, model, keys, request);
        Array.Sort(loads, (a, b) => a.WholeLoad.CompareTo(b.WholeLoad));
        return loads[loads.Length / 2];
    }

    /// <summary>
    /// Starts a prefetch of the request's longest stored prefix and awaits each layer in turn, as an engine would; each
    /// layer's readiness is timed inside the pipeline (<see cref="LayerTimingDecoder"/>), from the start. Blocking: the
    /// demo has nothing else to do meanwhile.
    /// </summary>
    private static PrefetchedPrefix Load(Prefetcher prefetcher, LayerTimingDecoder timing, LlamaModel model, ChunkKeys keys, Request request) =>
        LoadAsync(prefetcher, timing, model, keys, request, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    // storedChunks: the request's longest stored prefix when already looked up (across tiers); default: the local tiers' answer.
    private static async ValueTask<PrefetchedPrefix> LoadAsync(
        Prefetcher prefetcher, LayerTimingDecoder timing, LlamaModel model, ChunkKeys keys, Request request, CancellationToken cancellationToken, int? storedChunks = null)
    {
        int stored = storedChunks ?? prefetcher.Store.LongestPrefix(request.PrefixKeys);
        var destination = KvDestination.Allocate(model.Layout.Layers, model.Layout.KvDim, Math.Max(1, stored * keys.ChunkTokens), keys.ChunkTokens);
        var ready = new TimeSpan[destination.Layers];
        long start = Stopwatch.GetTimestamp();
        timing.Begin(destination.Layers, start);
        PrefetchRequest load = prefetcher.Start(request.PrefixKeys[..stored], destination, cancellationToken);
        await using (load.ConfigureAwait(false))
        {
            for (int layer = 0; layer < ready.Length; layer++)
            {
                await load.WaitForLayerAsync(layer, cancellationToken).ConfigureAwait(false);
                ready[layer] = Stopwatch.GetElapsedTime(start); // When this wait saw it: the fallback for a layer nothing was decoded for.
            }

            PrefetchResult result = await load.Completion.ConfigureAwait(false);
            for (int layer = 0; layer < ready.Length; layer++)
                ready[layer] = timing.LayerReady(layer) ?? ready[layer];
            return new PrefetchedPrefix(result.ReusablePrefixChunks, ready, destination);
        }
    }

    // Models with more layers than this show the first, median and last layer's readiness instead of every layer's.
    private const int ListedLayers = 8;

    private static string LayerTimesHeading(int layers) =>
        layers <= ListedLayers ? $"layers 0 to {layers - 1} ready (ms)" : $"layers ready (ms): 0, median {layers / 2}, {layers - 1}";

    /// <summary>Every layer's readiness time when there are few layers; else the first, the median and the last.</summary>
    private static string LayerTimes(TimeSpan[] ready) => ready.Length <= ListedLayers
        ? string.Join(" ", ready.Select(Milliseconds))
        : $"{Milliseconds(ready[0])} … {Milliseconds(ready[ready.Length / 2])} … {Milliseconds(ready[^1])}";

    /// <summary>Which decode stage the prefetcher placed: the CPU SIMD decoders, or a GPU through ILGPU.</summary>
    private static string DecoderName(ISectionDecoder decoder) => decoder switch
    {
        CpuSectionDecoder => "CPU SIMD",
        AcceleratorSectionDecoder { IsCpuAccelerator: false } => $"GPU {decoder.Name}",
        _ => decoder.Name,
    };

    private static string Milliseconds(TimeSpan time) => time.TotalMilliseconds.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>
    /// What reuse means to the engine: request 5 repeats request 1, so it continues from the KV of its full chunks as the
    /// prefetcher delivered them from the reopened store and computes only the rest. The logits must equal those of a
    /// full prefill.
    /// </summary>
    private static void ReportReuse(IAnsiConsole console, LlamaModel model, ChunkKeys keys, Request[] requests, PrefetchedPrefix prefetched,
        string source = "KV decoded from the reopened store by the prefetcher")
    {
        Request repeat = requests[^1];
        TokenChunk[] chunks = keys.Split(repeat.Tokens.Length);
        int reusable = 0;
        while (reusable < prefetched.Loaded && !chunks[reusable].IsPartial)
            reusable++;
        int cachedPositions = Math.Min(reusable * keys.ChunkTokens, repeat.Tokens.Length - 1);
        if (cachedPositions == 0)
        {
            console.MarkupLine("Reuse check: no full chunk to reuse from the store at this chunk size (use fewer --chunk-tokens or more --steps).");
            return;
        }

        float[] full = model.CreateSession().Prefill(repeat.Tokens).ToArray();
        LlamaSession continued = model.CreateSession();
        float[] reused = continued.Prefill(repeat.Tokens, prefetched.ToCache(cachedPositions, model.Config.SeqLen)).ToArray();
        float maxDelta = 0;
        for (int i = 0; i < full.Length; i++)
            maxDelta = Math.Max(maxDelta, Math.Abs(full[i] - reused[i]));

        console.MarkupLine($"Reuse check: request {requests.Length} loaded {cachedPositions} cached positions ({reusable} {(reusable == 1 ? "chunk" : "chunks")}) and computed "
            + $"{continued.ForwardCount} of {repeat.Tokens.Length} positions, continuing from {Markup.Escape(source)}; "
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
