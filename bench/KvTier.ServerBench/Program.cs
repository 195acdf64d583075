using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KvTier.Bench.Shared;
using KvTier.Keys;
using KvTier.ServerBench;
using KvTier.StoreBench;

// Sharing over loopback, in one run: kvtier serve (a real process), Redis (a private redis-server) and the raw TCP limit,
// with the same records: small (16-token stories260K chunks, 20 KiB) and large (256-token 8B-class chunks, 32 MiB).
// Usage: dotnet run -c Release --project bench/KvTier.ServerBench -- [--quick] [--out DIR]
// Writes OUT/server.json (OUT defaults to bench/results).
bool quick = args.Contains("--quick");
string repo = RepositoryRoot.Find();
string outDir = ArgValue("--out") ?? Path.Combine(repo, "bench", "results");
string cliDll = ArgValue("--cli") ?? Path.Combine(repo, "src", "KvTier.Cli", "bin", "Release", "net10.0", "kvtier.dll");
string scratch = Path.Combine(Path.GetTempPath(), $"kvtier-serverbench-{Environment.ProcessId}");
Directory.CreateDirectory(scratch);

MachineInfo machine = MachineInfo.Describe(scratch);
Console.WriteLine(F($"server benchmark{(quick ? " (quick)" : "")}: {machine.ProcessorCount} cores, {machine.Cpu}; load average {machine.LoadAverageAtStart}"));

int smallCount = quick ? 200 : 1000;
int largeCount = quick ? 3 : 6;
int lookupKeys = 1000;
int lookupReps = quick ? 50 : 200;
int concurrency = 16;
// The store benchmark's records (bench/KvTier.StoreBench/ChunkCase.cs, linked): raw, each with its own key and contents.
BenchRecord[] small = ChunkCase.Build("stories260K", ChunkCase.Stories260K, 16, 0, Math.Max(smallCount, lookupKeys), seed: 1);
BenchRecord[] large = ChunkCase.Build("synthetic-8b-class", ChunkCase.EightBClass, 256, 0, largeCount, seed: 2);
Console.WriteLine(F($"records: {small.Length} small of {small[0].Bytes.Length:N0} bytes, {large.Length} large of {large[0].Bytes.Length:N0} bytes"));

var systems = new List<IBenchSystem>();
var skipped = new Dictionary<string, string>();
systems.Add(await RawTcpSystem.StartAsync(large.Max(r => r.Bytes.Length)));
(KvtierServeSystem? serve, string? whyNotServe) = await KvtierServeSystem.StartAsync(cliDll, scratch);
if (serve is not null)
    systems.Add(serve);
else
    skipped["kvtier serve"] = whyNotServe!;
(RedisSystem? redis, string? whyNotRedis) = await RedisSystem.StartAsync();
if (redis is not null)
    systems.Add(redis);
else
    skipped["redis"] = whyNotRedis!;
// Durable Redis, for puts compared like for like: kvtier acknowledges a put only once it is synced to the device.
(RedisSystem? durableRedis, string? whyNotDurable) = await RedisSystem.StartAsync(Path.Combine(scratch, "redis-aof"));
if (durableRedis is not null)
    systems.Add(durableRedis);
else
    skipped["redis aof-always"] = whyNotDurable!;
foreach ((string name, string why) in skipped)
    Console.WriteLine($"  skipped {name}: {why}");

var results = new List<SystemResult>();
foreach (IBenchSystem system in systems)
{
    Console.WriteLine();
    Console.WriteLine($"== {system.Name}: {system.Description}");
    // Warm-up: connections, code paths, the server's first segments; then a pause, so that both processes' JIT can
    // finish recompiling the hot methods (tiered compilation) before anything is timed. Against a fresh kvtier serve
    // the first 32 MiB gets take twice as long as the tenth.
    for (int i = 0; i < 200; i++)
    {
        await system.PutAsync(small[i % smallCount]);
        await system.GetAsync(small[i % smallCount]);
    }
    foreach (BenchRecord record in large)
        await system.PutAsync(record);
    long warmUpStart = Stopwatch.GetTimestamp();
    for (int i = 0; i < 4 * large.Length || (Stopwatch.GetElapsedTime(warmUpStart).TotalSeconds < (quick ? 1 : 3) && i < 200); i++)
        await system.GetAsync(large[i % large.Length]);
    await Task.Delay(1500);

    Timing smallPut = await TimeEach(small.Take(smallCount), system.PutAsync);
    Timing smallGet = await TimeEach(small.Take(smallCount), r => system.GetAsync(r));
    for (int i = smallCount; i < small.Length; i++)
        await system.PutAsync(small[i]); // Every lookup key stored.
    double? concurrentGets = system is RawTcpSystem ? null : await ConcurrentGetsPerSecond(system, small.Take(smallCount).ToArray(), concurrency);
    Timing largePut = await TimeEach(large, system.PutAsync);
    Timing largeGet = await TimeEach(large.Concat(large).Concat(large).Concat(large), r => system.GetAsync(r));
    Timing? lookup = null;
    if (system.LookupAsync(small.Take(lookupKeys).Select(r => r.Key).ToArray()) is { } probe)
    {
        int found = await probe;
        if (found != lookupKeys)
            throw new InvalidOperationException($"{system.Name} found {found} of {lookupKeys} lookup keys.");
        ChunkKey[] keys = small.Take(lookupKeys).Select(r => r.Key).ToArray();
        lookup = await TimeEach(Enumerable.Range(0, lookupReps), _ => system.LookupAsync(keys)!);
    }

    var result = new SystemResult(system.Name, system.Description, smallPut, smallGet, concurrentGets, concurrency,
        largePut, largeGet, MiBPerSecond(large[0].Bytes.Length, largePut.MedianMs), MiBPerSecond(large[0].Bytes.Length, largeGet.MedianMs), lookup, lookupKeys);
    results.Add(result);
    Console.WriteLine(F($"  small put  p50 {smallPut.MedianMs,8:F3} ms  p99 {smallPut.P99Ms,8:F3} ms"));
    Console.WriteLine(F($"  small get  p50 {smallGet.MedianMs,8:F3} ms  p99 {smallGet.P99Ms,8:F3} ms{(concurrentGets is { } c ? F($"  ({c:N0} gets/s with {concurrency} in flight)") : "")}"));
    Console.WriteLine(F($"  32 MiB put p50 {largePut.MedianMs,8:F2} ms  p99 {largePut.P99Ms,8:F2} ms  {result.LargePutMiBps,8:F0} MiB/s"));
    Console.WriteLine(F($"  32 MiB get p50 {largeGet.MedianMs,8:F2} ms  p99 {largeGet.P99Ms,8:F2} ms  {result.LargeGetMiBps,8:F0} MiB/s"));
    if (lookup is not null)
        Console.WriteLine(F($"  lookup of {lookupKeys} keys p50 {lookup.MedianMs,8:F3} ms  p99 {lookup.P99Ms,8:F3} ms"));
}

foreach (IBenchSystem system in systems)
    await system.DisposeAsync();
try
{
    Directory.Delete(scratch, recursive: true);
}
catch (IOException)
{
}

var targets = new List<Target>();
SystemResult? raw = results.Find(r => r.Name == "raw tcp"), kv = results.Find(r => r.Name == "kvtier serve"), rd = results.Find(r => r.Name == "redis"),
    rdDurable = results.Find(r => r.Name == "redis aof-always");
if (kv is not null && raw is not null)
    targets.Add(new Target("32 MiB get >= 0.7x raw loopback bandwidth", kv.LargeGetMiBps / raw.LargeGetMiBps >= 0.7, kv.LargeGetMiBps / raw.LargeGetMiBps, 0.7,
        F($"{kv.LargeGetMiBps:F0} vs {raw.LargeGetMiBps:F0} MiB/s")));
if (kv is not null && rd is not null)
{
    targets.Add(new Target("32 MiB get >= 1.5x Redis", kv.LargeGetMiBps / rd.LargeGetMiBps >= 1.5, kv.LargeGetMiBps / rd.LargeGetMiBps, 1.5,
        F($"{kv.LargeGetMiBps:F0} vs {rd.LargeGetMiBps:F0} MiB/s")));
    targets.Add(new Target("32 MiB put >= 1.5x Redis", kv.LargePutMiBps / rd.LargePutMiBps >= 1.5, kv.LargePutMiBps / rd.LargePutMiBps, 1.5,
        F($"{kv.LargePutMiBps:F0} vs {rd.LargePutMiBps:F0} MiB/s (kvtier's puts are durable, Redis's here are memory only)")));
}
if (kv is not null && rdDurable is not null)
{
    targets.Add(new Target("32 MiB put >= 1.5x durable Redis (AOF, fsync always)", kv.LargePutMiBps / rdDurable.LargePutMiBps >= 1.5, kv.LargePutMiBps / rdDurable.LargePutMiBps, 1.5,
        F($"{kv.LargePutMiBps:F0} vs {rdDurable.LargePutMiBps:F0} MiB/s, both acknowledged once on the device")));
}
if (kv?.Lookup is { } l)
    targets.Add(new Target($"lookup of {lookupKeys} keys < 1 ms (p50)", l.MedianMs < 1.0, l.MedianMs, 1.0, F($"p50 {l.MedianMs:F3} ms, p99 {l.P99Ms:F3} ms")));

Console.WriteLine();
Console.WriteLine("== targets ==");
foreach (Target t in targets)
    Console.WriteLine(F($"  {(t.Met ? "MET    " : "NOT MET")}  {t.Name}: {t.Detail} ({t.Value:F3} vs {t.Threshold})"));
Console.WriteLine($"  {targets.Count(t => t.Met)} of {targets.Count} met");

Directory.CreateDirectory(outDir);
string path = Path.Combine(outDir, "server.json");
var json = new
{
    benchmark = "server",
    quick,
    machine,
    loadAverageAtEnd = MachineInfo.LoadAverage(),
    smallRecordBytes = small[0].Bytes.Length,
    largeRecordBytes = large[0].Bytes.Length,
    skipped,
    systems = results,
    targets,
};
await File.WriteAllTextAsync(path, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
Console.WriteLine($"wrote {path}");
return skipped.Count == 0 ? 0 : 3;

static async Task<Timing> TimeEach<T>(IEnumerable<T> items, Func<T, Task> operation)
{
    var samples = new List<double>();
    foreach (T item in items)
    {
        long start = Stopwatch.GetTimestamp();
        await operation(item);
        samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }
    return Timing.Of(samples);
}

static async Task<double> ConcurrentGetsPerSecond(IBenchSystem system, BenchRecord[] records, int inFlight)
{
    int next = -1;
    long start = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < records.Length)
            await system.GetAsync(records[i]);
    }));
    return records.Length / Stopwatch.GetElapsedTime(start).TotalSeconds;
}

static double MiBPerSecond(long bytes, double ms) => bytes / (1024.0 * 1024) / (ms / 1000);

static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

string? ArgValue(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}


/// <summary>Latency samples of one operation, in milliseconds.</summary>
internal sealed record Timing(double MedianMs, double P99Ms, double MinMs, double MaxMs, int Count)
{
    public static Timing Of(List<double> samples)
    {
        samples.Sort();
        double At(double q) => samples[Math.Min(samples.Count - 1, (int)Math.Ceiling(q * samples.Count) - 1)];
        return new Timing(At(0.5), At(0.99), samples[0], samples[^1], samples.Count);
    }
}

/// <summary>One system's numbers.</summary>
internal sealed record SystemResult(string Name, string Description, Timing SmallPut, Timing SmallGet, double? ConcurrentSmallGetsPerSecond,
    int Concurrency, Timing LargePut, Timing LargeGet, double LargePutMiBps, double LargeGetMiBps, Timing? Lookup, int LookupKeys);

/// <summary>A target of the issue, met or not.</summary>
internal sealed record Target(string Name, bool Met, double Value, double Threshold, string Detail);
