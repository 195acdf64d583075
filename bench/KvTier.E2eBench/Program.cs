using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KvTier.Bench.Shared;
using KvTier.E2eBench;
using KvTier.Format.Codecs;
using KvTier.Format;
using KvTier.Keys;
using KvTier.LlamaSharp;
using KvTier.Prefetch.Decoding;
using KvTier.Prefetch;
using KvTier.Reference;
using KvTier.Remote;
using KvTier.Storage.Remote;
using KvTier.Storage;

// Time to first token with LLamaSharp and stories260K.gguf, the prefix from: no cache (the engine evaluates every
// token: the baseline), the memory tier, local disk with a warm page cache, local disk with a cold page cache, and a
// real `kvtier serve` process on loopback. Every case's greedy continuation must equal the no-cache one.
// Usage: dotnet run -c Release --project bench/KvTier.E2eBench -- [--quick] [--reps N] [--dir DIR] [--out DIR] [--cli DLL] [--models DIR]
// Writes OUT/e2e.json (OUT defaults to bench/results). Exit code 1 when any output differs or a case did not reuse
// what it should; 3 when kvtier serve could not be started (the other cases still run).
if (!OperatingSystem.IsLinux())
{
    Console.Error.WriteLine("The end-to-end benchmark drops segment pages with posix_fadvise and checks them with mincore; run it on Linux.");
    return 2;
}

const int ChunkTokens = 16;     // Small chunks: the tiny model's prompts of 64 tokens still reuse whole chunks.
const int GeneratedTokens = 32; // Greedy tokens compared after every prefill.
const string ModelId = "stories260K.gguf";
// Prompt lengths: whole chunks plus the one token whose logits PrefillAsync must compute. 481 + 31 evaluated
// continuation tokens fill the 512-position context exactly.
// 17 and 33 (one and two chunks) locate the break-even length.
int[] lengths = [17, 33, 65, 129, 257, 481];

bool quick = args.Contains("--quick");
int reps = int.Parse(ArgValue("--reps") ?? (quick ? "3" : "15"), CultureInfo.InvariantCulture);
double warmUpSeconds = quick ? 1 : 2.5;
string repo = RepositoryRoot.Find();
string outDir = ArgValue("--out") ?? Path.Combine(repo, "bench", "results");
string cliDll = ArgValue("--cli") ?? Path.Combine(repo, "src", "KvTier.Cli", "bin", "Release", "net10.0", "kvtier.dll");
string scratch = Path.Combine(ArgValue("--dir") ?? Path.GetTempPath(), $"kvtier-e2ebench-{Environment.ProcessId}");
Directory.CreateDirectory(scratch);
long runStart = Stopwatch.GetTimestamp();

MachineInfo machine = MachineInfo.Describe(scratch);
Console.WriteLine(F($"end-to-end benchmark{(quick ? " (quick)" : "")}: {machine.ProcessorCount} cores, {machine.Cpu}; load average {machine.LoadAverageAtStart}; scratch on {machine.FileSystem}"));

using Engine engine = Engine.Load(ArgValue("--models"), int.Parse(ArgValue("--threads") ?? Engine.DefaultThreads.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
ChunkKeys keys = KvTierLlamaCache.CreateKeys(engine.Context, ModelId, chunkTokens: ChunkTokens);
var prefetcherOptions = new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance, DecodeParallelism = 2 };
KvStoreOptions StoreOptions(string name, long memoryBytes, IRemoteTier? remote = null) => new()
{
    Directory = Path.Combine(scratch, name),
    MemoryCapacityBytes = memoryBytes,
    SegmentSizeBytes = 4 * KvStoreOptions.MiB,
    BackgroundCompaction = false,
    RemoteTier = remote,
    RemoteWrites = RemoteWritePolicy.None,
};

// The baseline's connector sits on an empty store; it only evaluates.
using KvStore emptyStore = KvStore.Open(StoreOptions("none", 0));
await using var nonePrefetcher = new Prefetcher(emptyStore, prefetcherOptions);
var noCache = new KvTierLlamaCache(engine.Context, nonePrefetcher, keys);
int[] text = await engine.GenerateTextAsync(noCache, lengths[^1]);
Console.WriteLine(F($"model {engine.GgufPath}: layout {noCache.Layout}; prompt text: {text.Length} tokens the model wrote greedily from BOS + \"Once upon a time\"; chunks of {ChunkTokens} tokens; llama.cpp threads {engine.Threads}"));

// Every whole chunk of the longest prompt, computed by the engine and stored raw (the connector's default codec:
// K and V bit for bit) in the disk store; the shorter prompts' chunks are its leading ones (prefix keys).
KvStore diskStore = KvStore.Open(StoreOptions("disk", 0));
Prefetcher diskPrefetcher = new(diskStore, prefetcherOptions);
var diskCache = new KvTierLlamaCache(engine.Context, diskPrefetcher, keys);
LlamaPrefillResult computed = await diskCache.PrefillAsync(text, Engine.Sequence);
if (computed.TokensReused != 0)
    throw new InvalidOperationException("A fresh store served a prefix.");
LlamaStoreResult stored = await diskCache.StoreAsync(text, Engine.Sequence);
diskStore.Flush();
ChunkKey[] chunkKeys = keys.PrefixKeys(text.AsSpan(0, (text.Length - 1) / ChunkTokens * ChunkTokens), includePartial: false);
var records = new List<ReadOnlyMemory<byte>>();
long rawBytes = 0, ansBytes = 0;
foreach (ChunkKey key in chunkKeys)
{
    if (!diskStore.TryRead(key, out byte[]? bytes))
        throw new InvalidOperationException($"Chunk {key} was not stored.");
    records.Add(bytes);
    rawBytes += bytes.Length;
    ChunkRecord record = ChunkRecord.Parse(bytes);
    ChunkRecordHeader h = record.Header;
    ansBytes += ChunkRecordWriter.Encode(record.Decode(), new ChunkRecordMetadata(h.Fingerprint, h.Key, h.KeyKind, h.FirstPosition), CodecId.Ans).Length;
}
int storedTokens = chunkKeys.Length * ChunkTokens;
double rawPerToken = (double)rawBytes / storedTokens, ansPerToken = (double)ansBytes / storedTokens;
long payloadPerToken = 2L * noCache.Layout.Layers * noCache.Layout.KvDim * 2; // K and V, fp16
Console.WriteLine(F($"stored {stored.ChunksStored} chunks: {rawPerToken:F1} bytes/token raw ({payloadPerToken} of them K and V), {ansPerToken:F1} bytes/token with ans (default level)"));

// The memory tier: the same records put into a store with a memory tier (puts land in it).
using KvStore memoryStore = KvStore.Open(StoreOptions("memory", 64 * KvStoreOptions.MiB));
await memoryStore.PutBatchAsync(records);
await using var memoryPrefetcher = new Prefetcher(memoryStore, prefetcherOptions);
var memoryCache = new KvTierLlamaCache(engine.Context, memoryPrefetcher, keys);

// kvtier serve: the records put through a client; the engine's store has only a memory tier's worth of local room
// and is emptied of them after every request, so each prefill falls through to the server.
var skipped = new Dictionary<string, string>();
(ServeProcess? serve, string? whyNotServe) = await ServeProcess.StartAsync(cliDll, scratch);
RemoteTier? remoteTier = null;
KvStore? remoteStore = null;
Prefetcher? remotePrefetcher = null;
KvTierLlamaCache? remoteCache = null;
if (serve is not null)
{
    foreach (ReadOnlyMemory<byte> record in records)
        await serve.Client.PutAsync(record);
    remoteTier = new RemoteTier(new RemoteTierOptions { Client = serve.ClientOptions, CallTimeout = TimeSpan.FromSeconds(10) });
    remoteStore = KvStore.Open(StoreOptions("remote-client", 64 * KvStoreOptions.MiB, remoteTier));
    remotePrefetcher = new Prefetcher(remoteStore, prefetcherOptions);
    remoteCache = new KvTierLlamaCache(engine.Context, remotePrefetcher, keys);
    Console.WriteLine($"kvtier serve at {serve.Endpoint}: {records.Count} records put");
}
else
{
    skipped["serve"] = whyNotServe!;
    Console.WriteLine($"  skipped kvtier serve: {whyNotServe}");
}

CaseKind[] cases = serve is null
    ? [CaseKind.NoCache, CaseKind.ColdDisk, CaseKind.Memory, CaseKind.WarmDisk]
    : [CaseKind.NoCache, CaseKind.ColdDisk, CaseKind.Memory, CaseKind.WarmDisk, CaseKind.Serve];
var descriptions = new Dictionary<CaseKind, string>
{
    [CaseKind.NoCache] = "no cache: the engine evaluates every prompt token (KvTierLlamaCache.EvaluateAsync from position 0)",
    [CaseKind.Memory] = "memory tier: PrefillAsync on a store whose memory tier holds the chunks",
    [CaseKind.WarmDisk] = "local disk, warm page cache: memory tier off, segment pages cached",
    [CaseKind.ColdDisk] = "local disk, cold page cache: memory tier off, store reopened, segment pages dropped (posix_fadvise DONTNEED), mincore-checked",
    [CaseKind.Serve] = "kvtier serve on loopback: the engine's store (memory tier) is emptied of the chunks before each prefill; the prefetcher fetches them through RemoteTier",
};

// The reference: each prompt's no-cache greedy continuation.
var reference = new Dictionary<int, int[]>();
foreach (int length in lengths)
{
    noCache.ClearSequence(Engine.Sequence);
    float[] logits = await noCache.EvaluateAsync(text.AsMemory(0, length), 0, Engine.Sequence);
    reference[length] = (await Engine.ContinueAsync(noCache, logits, length, GeneratedTokens)).Tokens;
}

var failures = new List<string>();
var mismatches = new List<string>();
var samples = new Dictionary<(CaseKind, int), List<double>>();
var steps = new Dictionary<(CaseKind, int), List<double>>();
var reuse = new Dictionary<(CaseKind, int), (int Reused, int Evaluated)>();
var coldResident = new Dictionary<int, long>();

// Untimed warm-up: every case and length, for at least warmUpSeconds (code paths, the server's connection and
// caches, the prefetcher's staging pool).
long warmUpStart = Stopwatch.GetTimestamp();
int warmUpRounds = 0;
while (warmUpRounds < 1 || Stopwatch.GetElapsedTime(warmUpStart).TotalSeconds < warmUpSeconds)
{
    foreach (int length in lengths)
    {
        foreach (CaseKind c in cases)
            await RunOnceAsync(c, length, timed: false);
    }
    warmUpRounds++;
}
double warmedUpSeconds = Stopwatch.GetElapsedTime(warmUpStart).TotalSeconds;
Console.WriteLine(F($"warm-up: {warmUpRounds} rounds, {warmedUpSeconds:F1} s; timing {reps} repetitions"));

// Timed: cases interleaved within each repetition, so that load drifting over the run hits all alike. The cold case
// runs before the warm one, which then finds the pages the cold one read.
for (int rep = 0; rep < reps; rep++)
{
    foreach (int length in lengths)
    {
        foreach (CaseKind c in cases)
            await RunOnceAsync(c, length, timed: true);
    }
}

// Results.
double ttftNoCache(int length) => Timing.Median(samples[(CaseKind.NoCache, length)]);
var caseResults = new List<CaseResult>();
foreach (CaseKind c in cases)
{
    var rows = new List<LengthResult>();
    foreach (int length in lengths)
    {
        Timing ttft = Timing.Of(samples[(c, length)]);
        double step = Timing.Median(steps[(c, length)]);
        (int reused, int evaluated) = reuse[(c, length)];
        long loadBytes = (long)Math.Round(rawPerToken * reused);
        double? loadMs = c == CaseKind.NoCache ? null : Math.Max(1e-3, ttft.MedianMs - step);
        rows.Add(new LengthResult(length, reused, evaluated, ttft, ttft.MedianMs / ttftNoCache(length), step, loadMs, loadBytes,
            loadMs is { } ms ? loadBytes / (ms / 1e3) : null,
            !mismatches.Any(m => m.StartsWith(F($"{c} {length} "), StringComparison.Ordinal)),
            c == CaseKind.ColdDisk ? coldResident.GetValueOrDefault(length) : null));
    }
    LinearFit fit = LinearFit.Of(lengths.Select(l => (double)l).ToArray(), rows.Select(r => r.Ttft.MedianMs).ToArray());
    double? marginalLoad = null, loadFixedMs = null;
    if (c != CaseKind.NoCache)
    {
        LinearFit load = LinearFit.Of(rows.Select(r => (double)r.TokensReused).ToArray(), rows.Select(r => r.LoadMs!.Value).ToArray());
        marginalLoad = load.Slope > 0 ? rawPerToken / (load.Slope / 1e3) : null;
        loadFixedMs = load.Intercept;
    }
    caseResults.Add(new CaseResult(c.ToString(), descriptions[c], rows, fit.Intercept, fit.Slope, marginalLoad, loadFixedMs,
        c == CaseKind.NoCache ? null : BreakEven(rows), rows.FirstOrDefault(r => r.RatioToNoCache < 1)?.PromptTokens));
}
CaseResult none = caseResults[0];

double[] prefillRates = lengths.Select(l => l / (ttftNoCache(l) / 1e3)).ToArray();
double marginalPrefill = 1e3 / none.MsPerToken;

// Table.
Console.WriteLine();
Console.WriteLine("case          prompt  reused  eval   TTFT p50    p90   ratio   load ms   load MB/s  same output");
foreach (CaseResult c in caseResults)
{
    foreach (LengthResult r in c.Lengths)
    {
        Console.WriteLine(F($"{c.Case,-12} {r.PromptTokens,7} {r.TokensReused,7} {r.TokensEvaluated,5} {r.Ttft.MedianMs,8:F3} {r.Ttft.P90Ms,7:F3} {r.RatioToNoCache,6:F2}x {(r.LoadMs is { } lm ? F($"{lm,9:F3}") : "        -")} {(r.LoadBytesPerSecond is { } b ? F($"{b / 1e6,11:F1}") : "          -")}  {(r.OutputsIdentical ? "yes" : "NO")}"));
    }
}
Console.WriteLine();
Console.WriteLine(F($"engine prefill (no cache): {string.Join(", ", lengths.Select((l, i) => F($"{l} tokens {prefillRates[i]:N0} tok/s")))}"));
foreach (CaseResult c in caseResults.Skip(1))
{
    Console.WriteLine(F($"{c.Case,-10} marginal load {(c.MarginalLoadBytesPerSecond is { } m ? F($"{m / 1e6:F1} MB/s ({m / rawPerToken:N0} tok/s)") : "n/a")}, fixed {c.LoadFixedMs:F3} ms; break-even prompt {(c.BreakEvenTokens is { } be ? F($"{be:F0} tokens") : "not within the tested lengths")}; first tested length that wins: {(c.FirstTestedLengthThatWins?.ToString(CultureInfo.InvariantCulture) ?? "none")}"));
}
Console.WriteLine(F($"cold check: segment bytes cached after the drop, worst repetition per length: {string.Join(", ", coldResident.Select(kv => F($"{kv.Key}: {kv.Value}")))}"));

// The 8B-class projection: PROJECTED, not measured. Prefill rates are published figures (cited); load rates are this
// machine's measurements of 8B-class records by the prefetch and server harnesses when their JSON is there
// (bench/results/prefetch.json, server.json), and this run's tiny-model rates as a pessimistic variant.
Projection projection = Projections.Build(Path.Combine(repo, "bench", "results"), caseResults, rawPerToken, (double)ansBytes / rawBytes);
Console.WriteLine();
Console.WriteLine(F($"PROJECTED (not measured) for an 8B-class layout, {projection.Layout}: {projection.RawBytesPerToken:N0} bytes/token raw; prompt of {projection.ExamplePromptTokens} tokens"));
foreach (ProjectionRow r in projection.Rows.Where(r => r.Primary))
{
    Console.WriteLine(F($"  {r.Tier,-9} {r.Codec,-4} {r.BytesPerToken,7:N0} B/tok, load {r.LoadTokensPerSecond,8:N0} tok/s vs {r.PrefillTokensPerSecond,6:N0} tok/s {r.PrefillShort}: {r.SpeedupLongPrompt,6:F2}x; TTFT {r.ProjectedTtftLoadMs,8:F1} vs {r.ProjectedTtftComputeMs,8:F1} ms; break-even {(r.BreakEvenTokens is { } be ? F($"{be:F0} tokens") : "never")}"));
}

// Teardown.
if (serve is not null)
{
    await remotePrefetcher!.DisposeAsync();
    remoteStore!.Dispose();
    await remoteTier!.DisposeAsync();
    await serve.DisposeAsync();
}
await diskPrefetcher.DisposeAsync();
diskStore.Dispose();

bool identical = mismatches.Count == 0;
Console.WriteLine();
if (!identical)
{
    Console.Error.WriteLine($"FAILED: {mismatches.Count} continuations differ from the no-cache output:");
    foreach (string m in mismatches.Take(20))
        Console.Error.WriteLine($"  {m}");
}
foreach (string f in failures.Distinct().Take(20))
    Console.Error.WriteLine($"FAILED: {f}");
if (identical && failures.Count == 0)
    Console.WriteLine($"all {cases.Length} cases gave the no-cache greedy output ({GeneratedTokens} tokens) at every length and repetition");

Directory.CreateDirectory(outDir);
string path = Path.Combine(outDir, "e2e.json");
var json = new
{
    benchmark = "e2e",
    quick,
    machine,
    loadAverageAtEnd = MachineInfo.LoadAverage(),
    runSeconds = Stopwatch.GetElapsedTime(runStart).TotalSeconds,
    model = new { gguf = Path.GetFileName(engine.GgufPath), layout = noCache.Layout.ToString(), contextSize = Engine.ContextSize, cacheType = "F16", threads = engine.Threads, flashAttention = false, batchSize = Engine.ContextSize },
    chunkTokens = ChunkTokens,
    promptTokens = lengths,
    generatedTokens = GeneratedTokens,
    repetitions = reps,
    warmUpSeconds = warmedUpSeconds,
    warmUpRounds,
    ttftDefinition = "PrefillAsync (lookup, load, evaluation of the rest) until the last prompt token's logits, then the greedy first token (argmax)",
    records = new
    {
        chunks = chunkKeys.Length,
        tokens = storedTokens,
        rawRecordBytes = rawBytes,
        ansRecordBytes = ansBytes,
        rawBytesPerToken = rawPerToken,
        ansBytesPerToken = ansPerToken,
        kvPayloadBytesPerToken = payloadPerToken,
    },
    engine = new
    {
        prefillTokensPerSecond = lengths.Select((l, i) => new { promptTokens = l, tokensPerSecond = prefillRates[i] }),
        marginalPrefillTokensPerSecond = marginalPrefill,
        fixedMs = none.FixedMs,
    },
    cases = caseResults,
    coldCheck = new
    {
        method = "before every cold request: store disposed and reopened (memory tier off), KvStore.DropPageCache (posix_fadvise DONTNEED on every segment file), then mincore over the segment files",
        worstResidentBytesPerLength = coldResident,
    },
    projection,
    outputsIdentical = identical,
    mismatches,
    failures = failures.Distinct().ToList(),
    skipped,
};
await File.WriteAllTextAsync(path, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
Console.WriteLine($"wrote {path}");
try
{
    Directory.Delete(scratch, recursive: true);
}
catch (IOException)
{
}
return !identical || failures.Count > 0 ? 1 : skipped.Count > 0 ? 3 : 0;

// One request: prepare the case (untimed), time the prefill and the first token, then check the continuation.
async Task RunOnceAsync(CaseKind c, int length, bool timed)
{
    ReadOnlyMemory<int> prompt = text.AsMemory(0, length);
    KvTierLlamaCache cache = c switch
    {
        CaseKind.NoCache => noCache,
        CaseKind.Memory => memoryCache,
        CaseKind.WarmDisk => diskCache,
        CaseKind.ColdDisk => ReopenCold(length, timed),
        CaseKind.Serve => remoteCache!,
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };
    StoreStatistics before = cache.Store.GetStatistics();
    noCache.ClearSequence(Engine.Sequence);

    long start = Stopwatch.GetTimestamp();
    float[] logits;
    int reused;
    ChunkSource? tier = null;
    if (c == CaseKind.NoCache)
    {
        cache.ClearSequence(Engine.Sequence);
        logits = await cache.EvaluateAsync(prompt, 0, Engine.Sequence);
        reused = 0;
    }
    else
    {
        LlamaPrefillResult result = await cache.PrefillAsync(prompt, Engine.Sequence);
        logits = result.Logits;
        reused = result.TokensReused;
        tier = result.Tier;
    }
    int first = GreedySampler.Argmax(logits);
    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

    (int[] output, double stepMs) = await Engine.ContinueAsync(cache, logits, length, GeneratedTokens);
    if (output[0] != first)
        throw new InvalidOperationException("The first token changed between the timed argmax and the continuation.");
    StoreStatistics after = cache.Store.GetStatistics();
    int expectedReused = c == CaseKind.NoCache ? 0 : (length - 1) / ChunkTokens * ChunkTokens;
    if (reused != expectedReused)
        failures.Add(F($"{c} at {length} tokens reused {reused}, expected {expectedReused}"));
    ChunkSource? expectedTier = c switch { CaseKind.Memory => ChunkSource.Memory, CaseKind.WarmDisk or CaseKind.ColdDisk => ChunkSource.Disk, CaseKind.Serve => ChunkSource.Remote, _ => null };
    if (expectedTier is not null && tier != expectedTier)
        failures.Add(F($"{c} at {length} tokens was served from {tier}, expected {expectedTier}"));
    if (c == CaseKind.Serve && after.RemoteHits - before.RemoteHits != expectedReused / ChunkTokens)
        failures.Add(F($"{c} at {length} tokens fetched {after.RemoteHits - before.RemoteHits} chunks from the server, expected {expectedReused / ChunkTokens}"));
    if (!output.AsSpan().SequenceEqual(reference[length]))
        mismatches.Add(F($"{c} {length} tokens{(timed ? "" : " (warm-up)")}: [{string.Join(' ', output)}] vs no cache [{string.Join(' ', reference[length])}]"));
    if (c == CaseKind.Serve)
    {
        foreach (ChunkKey key in chunkKeys)
            cache.Store.Delete(key); // The next request finds the local store empty again.
    }
    if (!timed)
        return;
    Add(samples, (c, length), ms);
    Add(steps, (c, length), stepMs);
    reuse[(c, length)] = (reused, length - reused);
}

// Closes and reopens the disk store (no page of it mapped by this process), drops its segments' pages, and checks
// with mincore that none stayed cached; the connector's value orientation is learned untimed.
KvTierLlamaCache ReopenCold(int length, bool timed)
{
    diskPrefetcher.DisposeAsync().AsTask().GetAwaiter().GetResult();
    diskStore.Dispose();
    diskStore = KvStore.Open(StoreOptions("disk", 0));
    diskPrefetcher = new Prefetcher(diskStore, prefetcherOptions);
    diskCache = new KvTierLlamaCache(engine.Context, diskPrefetcher, keys);
    diskCache.ClearSequence(Engine.Sequence);
    diskCache.EvaluateAsync(text.AsMemory(0, 1), 0, Engine.Sequence).GetAwaiter().GetResult();
    _ = diskCache.SaveState(Engine.Sequence);
    diskCache.ClearSequence(Engine.Sequence);
    diskStore.DropPageCache();
    long resident = PageResidency.ResidentBytes(Path.Combine(diskStore.Options.Directory, KvStore.SegmentDirectoryName));
    if (timed)
        coldResident[length] = Math.Max(coldResident.GetValueOrDefault(length), resident);
    return diskCache;
}

static void Add<TKey>(Dictionary<TKey, List<double>> d, TKey key, double value) where TKey : notnull
{
    if (!d.TryGetValue(key, out List<double>? list))
        d[key] = list = [];
    list.Add(value);
}

// The prompt length where the median TTFT ratio to no cache crosses 1, interpolated linearly between the tested lengths
// (the last crossing from above); the shortest tested length when it already wins there; null when no tested length wins.
static double? BreakEven(IReadOnlyList<LengthResult> rows)
{
    if (rows[^1].RatioToNoCache >= 1)
        return null;
    for (int i = rows.Count - 1; i > 0; i--)
    {
        LengthResult lo = rows[i - 1], hi = rows[i];
        if (lo.RatioToNoCache >= 1)
            return lo.PromptTokens + (hi.PromptTokens - lo.PromptTokens) * (lo.RatioToNoCache - 1) / (lo.RatioToNoCache - hi.RatioToNoCache);
    }
    return rows[0].PromptTokens;
}

static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

string? ArgValue(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

