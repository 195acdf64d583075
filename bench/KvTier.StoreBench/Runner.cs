using KvTier.Bench.Shared;
using System.Diagnostics;

namespace KvTier.StoreBench;

/// <summary>Times puts and gets against any <see cref="IStoreSystem"/> the same way.</summary>
internal static class Runner
{
    /// <summary>Puts all records, <paramref name="batch"/> per durable call, one call at a time; then settles.</summary>
    public static PutResult Put(IStoreSystem system, string mode, BenchRecord[] records, int batch)
    {
        int calls = (records.Length + batch - 1) / batch;
        var ticks = new long[calls];
        TimeSpan gc = GC.GetTotalPauseDuration();
        long start = Stopwatch.GetTimestamp();
        for (int c = 0; c < calls; c++)
        {
            int first = c * batch;
            long t0 = Stopwatch.GetTimestamp();
            system.Put(records.AsSpan(first, Math.Min(batch, records.Length - first)));
            ticks[c] = Stopwatch.GetTimestamp() - t0;
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        double gcMs = (GC.GetTotalPauseDuration() - gc).TotalMilliseconds;
        long settleStart = Stopwatch.GetTimestamp();
        system.Settle();
        double settle = Stopwatch.GetElapsedTime(settleStart).TotalSeconds;
        return new PutResult(system.Name, mode, batch, 1, records.Length, TotalBytes(records), seconds, Latency.FromTicks(ticks), settle, gcMs);
    }

    /// <summary>Puts all records through <paramref name="put"/> from <paramref name="concurrency"/> workers, each awaiting its puts in turn.</summary>
    public static async Task<PutResult> PutConcurrentAsync(string system, string mode, BenchRecord[] records, int concurrency, Func<BenchRecord, ValueTask> put)
    {
        var ticks = new long[records.Length];
        TimeSpan gc = GC.GetTotalPauseDuration();
        long start = Stopwatch.GetTimestamp();
        var workers = new Task[concurrency];
        for (int w = 0; w < concurrency; w++)
        {
            int worker = w;
            workers[w] = Task.Run(async () =>
            {
                for (int i = worker; i < records.Length; i += concurrency)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await put(records[i]).ConfigureAwait(false);
                    ticks[i] = Stopwatch.GetTimestamp() - t0;
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new PutResult(system, mode, 1, concurrency, records.Length, TotalBytes(records), seconds, Latency.FromTicks(ticks), null,
            (GC.GetTotalPauseDuration() - gc).TotalMilliseconds);
    }

    /// <summary>
    /// Warm gets: one untimed pass that also checks every record's bytes, then timed passes in random order until
    /// <paramref name="minSeconds"/> have passed (at most <paramref name="maxPasses"/>).
    /// </summary>
    public static GetResult GetWarm(IStoreSystem system, string mode, BenchRecord[] records, double minSeconds, int maxPasses, Func<string?>? note = null)
    {
        byte[] buffer = BufferFor(records);
        foreach (BenchRecord record in records)
        {
            int n = system.Get(record.Key, buffer);
            if (n != record.Bytes.Length || !buffer.AsSpan(0, n).SequenceEqual(record.Bytes))
                throw new InvalidOperationException($"{system.Name}: record {record.Key} came back wrong ({n} bytes, expected {record.Bytes.Length}).");
        }

        int[] order = Order(records.Length);
        var ticks = new long[(long)records.Length * maxPasses];
        int taken = 0;
        long bytes = 0;
        TimeSpan gc = GC.GetTotalPauseDuration();
        long start = Stopwatch.GetTimestamp();
        for (int pass = 0; pass < maxPasses && (pass == 0 || Stopwatch.GetElapsedTime(start).TotalSeconds < minSeconds); pass++)
            bytes += TimedPass(system, records, order, buffer, ticks, ref taken);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new GetResult(system.Name, mode, "warm", taken, bytes, seconds, Latency.FromTicks(ticks.AsSpan(0, taken)), null, note?.Invoke(),
            (GC.GetTotalPauseDuration() - gc).TotalMilliseconds);
    }

    /// <summary>Cold gets: reopen, drop every data file from the page cache, then one timed pass in random order.</summary>
    public static GetResult GetCold(IStoreSystem system, string mode, BenchRecord[] records)
    {
        byte[] buffer = BufferFor(records);
        system.PrepareCold();
        double resident = DropAll(system.DataFiles());
        int[] order = Order(records.Length);
        var ticks = new long[records.Length];
        int taken = 0;
        TimeSpan gc = GC.GetTotalPauseDuration();
        long start = Stopwatch.GetTimestamp();
        long bytes = TimedPass(system, records, order, buffer, ticks, ref taken);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new GetResult(system.Name, mode, "cold", taken, bytes, seconds, Latency.FromTicks(ticks.AsSpan(0, taken)), resident, null,
            (GC.GetTotalPauseDuration() - gc).TotalMilliseconds);
    }

    /// <summary>Drops files from the page cache; returns the share of their pages still resident afterwards.</summary>
    public static double DropAll(IEnumerable<string> files)
    {
        long resident = 0, total = 0;
        foreach (string file in files.ToList())
        {
            Posix.DropFromPageCache(file);
            (long r, long t) = PageResidency.ResidentPages(file);
            resident += r;
            total += t;
        }

        return total == 0 ? 0 : resident / (double)total;
    }

    public static long TotalBytes(BenchRecord[] records)
    {
        long total = 0;
        foreach (BenchRecord record in records)
            total += record.Bytes.Length;
        return total;
    }

    private static long TimedPass(IStoreSystem system, BenchRecord[] records, int[] order, byte[] buffer, long[] ticks, ref int taken)
    {
        long bytes = 0;
        foreach (int i in order)
        {
            BenchRecord record = records[i];
            long t0 = Stopwatch.GetTimestamp();
            int n = system.Get(record.Key, buffer);
            ticks[taken++] = Stopwatch.GetTimestamp() - t0;
            if (n != record.Bytes.Length)
                throw new InvalidOperationException($"{system.Name}: record {record.Key} came back with {n} bytes, expected {record.Bytes.Length}.");
            bytes += n;
        }

        return bytes;
    }

    private static byte[] BufferFor(BenchRecord[] records)
    {
        int max = 0;
        foreach (BenchRecord record in records)
            max = Math.Max(max, record.Bytes.Length);
        // Touched once so page faults on a fresh buffer are not timed.
        byte[] buffer = GC.AllocateUninitializedArray<byte>(max, pinned: true);
        buffer.AsSpan().Fill(0);
        return buffer;
    }

    private static int[] Order(int count)
    {
        int[] order = Enumerable.Range(0, count).ToArray();
        new Random(17).Shuffle(order);
        return order;
    }
}
