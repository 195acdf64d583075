using KvTier.Bench.Shared;
using System.Globalization;
using System.Text.Json;
using KvTier.StoreBench;
using KvTier.Storage;

// The KvTier store against file-per-chunk (LMCache's local disk tier), RocksDB with records as values (plain and
// with blob files) and the machine's raw limits, on the same data in one run. Usage:
// dotnet run -c Release --project bench/KvTier.StoreBench -- [--quick] [--dir DIR] [--out DIR] [--keep] [--no-index]
// Writes OUT/store.json (OUT defaults to bench/results); scratch data goes under DIR (default: a new folder in /tmp),
// removed at the end unless --keep.
var options = Options.Parse(args);
if (!OperatingSystem.IsLinux())
{
    Console.Error.WriteLine("The store benchmark uses Linux's O_DIRECT, posix_fadvise and mincore; run it on Linux.");
    return 2;
}

Directory.CreateDirectory(options.Dir);
if (!options.Keep)
{
    // A failed run should not leave gigabytes behind in /tmp.
    AppDomain.CurrentDomain.UnhandledException += (_, _) =>
    {
        try
        {
            Directory.Delete(options.Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    };
}

MachineInfo machine = MachineInfo.Describe(options.Dir);
Console.WriteLine(F($"store benchmark{(options.Quick ? " (quick)" : "")}: {machine.ProcessorCount} cores, {machine.Cpu}, {machine.Os}; scratch {options.Dir} on {machine.FileSystem}; load average {machine.LoadAverageAtStart}"));

ChunkCase[] cases =
[
    new("8b-class", "256 tokens of an 8B-class layout (32 layers x 8 KV heads x 128, fp16)", "synthetic-8b-class", ChunkCase.EightBClass, 256, options.Quick ? 4 : 32),
    new("8b-16tok", "16 tokens of the 8B-class layout", "synthetic-8b-class", ChunkCase.EightBClass, 16, options.Quick ? 32 : 384),
    new("real", "256 tokens of stories260K (5 layers x 4 KV heads x 8, f32)", "stories260K", ChunkCase.Stories260K, 256, options.Quick ? 64 : 2048),
    new("real-16tok", "16 tokens of stories260K", "stories260K", ChunkCase.Stories260K, 16, options.Quick ? 128 : 4096),
];
double warmSeconds = options.Quick ? 0.2 : 1.0;
int warmPasses = options.Quick ? 3 : 20;
double limitSeconds = options.Quick ? 0.5 : 2.0;
int syncEachMax = options.Quick ? 32 : 512;

var results = new List<CaseResult>();
int scratch = 0;
string Fresh(string name)
{
    string path = Path.Combine(options.Dir, $"{scratch++:D2}-{name}");
    Directory.CreateDirectory(path);
    return path;
}

foreach (ChunkCase c in cases)
{
    BenchRecord[] records = c.Build(seed: 7);
    long recordBytes = records[0].Bytes.Length;
    long totalBytes = Runner.TotalBytes(records);
    // Records per durable batch for the systems that batch (the store's PutBatch, RocksDB's write batch), and the
    // concurrency of the store's PutAsync run: about 128 MiB per batch (records are a little over a power of two),
    // 1 to 64 records.
    int batch = (int)Math.Clamp(((128L << 20) + recordBytes / 2) / recordBytes, 1, 64);
    Report.PrintHeader(c, recordBytes, totalBytes, batch);

    string limitsDir = Fresh("limits");
    RawLimits limits = RawLimitsProbe.Measure(limitsDir, recordBytes, totalBytes, limitSeconds);
    Directory.Delete(limitsDir, recursive: true);
    Report.PrintLimits(limits);

    var puts = new List<PutResult>();
    var gets = new List<GetResult>();

    KvStoreOptions StoreOptions(string dir, long memory = 0, ReadVerification verification = ReadVerification.Full) => new()
    {
        Directory = dir,
        MemoryCapacityBytes = memory,
        ReadVerification = verification,
    };

    foreach (int perCall in batch > 1 ? new[] { 1, batch } : new[] { 1 })
    {
        string dir = Fresh("kvtier");
        using (var store = new KvTierSystem("kvtier", StoreOptions(dir)))
            puts.Add(Runner.Put(store, perCall == 1 ? "Put" : "PutBatch", records, perCall));
        Directory.Delete(dir, recursive: true);
    }

    {
        string dir = Fresh("kvtier");
        using (var store = new KvTierSystem("kvtier", StoreOptions(dir)))
        {
            puts.Add(await Runner.PutConcurrentAsync("kvtier", "PutAsync", records, Math.Max(4, batch), store.PutAsync));
            foreach (ReadVerification verification in new[] { ReadVerification.Full, ReadVerification.Header })
            {
                string mode = $"disk, verify {verification.ToString().ToLowerInvariant()}";
                store.Reopen(StoreOptions(dir, verification: verification));
                gets.Add(Runner.GetWarm(store, mode, records, warmSeconds, warmPasses, store.TierNote));
                gets.Add(Runner.GetCold(store, mode, records) with { Note = store.TierNote() });
            }

            store.Reopen(StoreOptions(dir, memory: totalBytes + totalBytes / 4 + (64L << 20)));
            gets.Add(Runner.GetWarm(store, "memory tier", records, warmSeconds, warmPasses, store.TierNote));
        }

        Directory.Delete(dir, recursive: true);
    }

    {
        string dir = Fresh("files");
        using (var files = new FilePerChunkSystem(dir))
        {
            puts.Add(Runner.Put(files, "fsync each", records, 1));
            gets.Add(Runner.GetWarm(files, "", records, warmSeconds, warmPasses));
            gets.Add(Runner.GetCold(files, "", records));
        }

        Directory.Delete(dir, recursive: true);
    }

    foreach (bool blobs in new[] { false, true })
    {
        if (!blobs)
        {
            // Sync per put: one WAL fsync per record, on the first records only (it is slow for small ones).
            string single = Fresh("rocksdb");
            using (var db = new RocksDbSystem(single, blobs))
                puts.Add(Runner.Put(db, "sync each", records[..Math.Min(records.Length, syncEachMax)], 1));
            Directory.Delete(single, recursive: true);
        }

        string dir = Fresh("rocksdb");
        using (var rocks = new RocksDbSystem(dir, blobs))
        {
            puts.Add(Runner.Put(rocks, "batch, sync", records, batch));
            gets.Add(Runner.GetWarm(rocks, "", records, warmSeconds, warmPasses));
            gets.Add(Runner.GetCold(rocks, "", records));
        }

        Directory.Delete(dir, recursive: true);
    }

    // The limits again, after the systems: on a shared machine each limit is the better of the two measurements,
    // so that a busy moment during the first one does not flatter the systems.
    limitsDir = Fresh("limits");
    limits = RawLimits.Best(limits, RawLimitsProbe.Measure(limitsDir, recordBytes, totalBytes, limitSeconds));
    Directory.Delete(limitsDir, recursive: true);
    Report.PrintLimits(limits, again: true);

    var result = new CaseResult(c.Name, c.Description, c.Tokens, recordBytes, records.Length, totalBytes, batch, limits, puts, gets);
    results.Add(result);
    Report.PrintCase(result);
}

long[] milestones = options.Quick ? [1_000, 10_000] : [1_000, 10_000, 100_000, 1_000_000];
var index = new List<IndexPoint>();
if (options.Index)
{
    int lookups = options.Quick ? 10_000 : 100_000;
    double budget = options.Quick ? 30 : 150;
    Console.WriteLine();
    Console.WriteLine(F($"== index scaling: 1-token stories260K records, durable batches of 256, {lookups:N0} lookups per point, {budget:F0} s of puts per system at most =="));
    {
        string dir = Fresh("kvtier-index");
        using (var store = new KvTierSystem("kvtier", new KvStoreOptions { Directory = dir, MemoryCapacityBytes = 0 }))
            index.AddRange(IndexScaling.Run(store, milestones, lookups, budget, Console.WriteLine));
        Directory.Delete(dir, recursive: true);
    }
    {
        string dir = Fresh("rocksdb-index");
        using (var db = new RocksDbSystem(dir, blobs: false))
            index.AddRange(IndexScaling.Run(db, milestones, lookups, budget, Console.WriteLine));
        Directory.Delete(dir, recursive: true);
    }

    Report.PrintIndex(index);
}

List<Target> targets = Targets.Evaluate(results, index, milestones[^1]);
Targets.Print(targets);

Directory.CreateDirectory(options.Out);
string json = Path.Combine(options.Out, "store.json");
File.WriteAllText(json, JsonSerializer.Serialize(new
{
    benchmark = "kvtier store against file-per-chunk, RocksDB and raw limits",
    quick = options.Quick,
    machine,
    loadAverageAtEnd = MachineInfo.LoadAverage(),
    cases = results,
    index,
    targets,
}, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
Console.WriteLine($"wrote {json} (load average {MachineInfo.LoadAverage()} at the end)");

if (!options.Keep)
    Directory.Delete(options.Dir, recursive: true);
return 0;

static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

/// <summary>Command-line options.</summary>
internal sealed record Options(bool Quick, string Dir, string Out, bool Keep, bool Index)
{
    public static Options Parse(string[] args)
    {
        bool quick = false, keep = false, index = true;
        string dir = Path.Combine(Path.GetTempPath(), $"kvtier-storebench-{Environment.ProcessId}");
        string output = Path.Combine(FindBench(), "results");
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": quick = true; continue;
                case "--keep": keep = true; continue;
                case "--no-index": index = false; continue;
            }

            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--dir": dir = Path.Combine(value, $"kvtier-storebench-{Environment.ProcessId}"); i++; break;
                case "--out": output = value; i++; break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }

        return new Options(quick, dir, output, keep, index);
    }

    private static string FindBench()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KvTier.sln")))
                return Path.Combine(dir.FullName, "bench");
        }

        return Environment.CurrentDirectory;
    }
}
