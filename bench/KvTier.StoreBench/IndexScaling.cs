using System.Diagnostics;
using KvTier.Keys;

namespace KvTier.StoreBench;

/// <summary>
/// Lookup latency as the number of indexed chunks grows: fills a system with the tiniest records (one token of the
/// reference model's layout) in durable batches, and at each milestone times <see cref="IStoreSystem.Contains"/>
/// on present and absent keys. A system that runs out of its time budget gets the remaining milestones
/// extrapolated (log-linear in the chunk count from its last two measured ones) and marked so.
/// </summary>
internal static class IndexScaling
{
    private const int Batch = 256;

    public static List<IndexPoint> Run(IStoreSystem system, long[] milestones, int lookups, double budgetSeconds, Action<string> log)
    {
        var points = new List<IndexPoint>();
        var keys = new ChunkKey[milestones[^1]];
        long stored = 0;
        double putSeconds = 0;
        var random = new Random(29);
        foreach (long target in milestones)
        {
            long before = stored;
            double putSecondsBefore = putSeconds;
            while (stored < target && putSeconds < budgetSeconds)
            {
                int count = (int)Math.Min(Batch, target - stored);
                BenchRecord[] records = ChunkCase.Build("stories260K", ChunkCase.Stories260K, 1, stored, count, seed: 1000);
                long t0 = Stopwatch.GetTimestamp();
                system.Put(records);
                putSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                for (int i = 0; i < count; i++)
                    keys[stored + i] = records[i].Key;
                stored += count;
            }

            if (stored < target)
            {
                log($"  {system.Name}: stopped at {stored:N0} chunks after {putSeconds:F0} s of puts (budget {budgetSeconds:F0} s)");
                break;
            }

            double rate = (stored - before) / Math.Max(1e-9, putSeconds - putSecondsBefore);
            (Latency present, Latency absent) = Lookups(system, keys.AsSpan(0, (int)stored), lookups, random);
            points.Add(new IndexPoint(system.Name, target, false, rate, present, absent));
            log($"  {system.Name}: {target,9:N0} chunks  present p50 {present.P50Us,6:F2} us  p99 {present.P99Us,6:F2} us  absent p99 {absent.P99Us,6:F2} us  (puts {rate:N0} records/s)");
        }

        foreach (long target in milestones.Skip(points.Count))
            points.Add(Extrapolate(system.Name, points, target));
        return points;
    }

    private static (Latency Present, Latency Absent) Lookups(IStoreSystem system, ReadOnlySpan<ChunkKey> keys, int lookups, Random random)
    {
        var presentKeys = new ChunkKey[lookups];
        var absentKeys = new ChunkKey[lookups];
        Span<byte> bytes = stackalloc byte[ChunkKey.Size];
        for (int i = 0; i < lookups; i++)
        {
            presentKeys[i] = keys[random.Next(keys.Length)];
            random.NextBytes(bytes);
            absentKeys[i] = ChunkKey.FromBytes(bytes);
        }

        // Warm-up: JIT and the index's hot paths, untimed.
        for (int i = 0; i < Math.Min(lookups, 2000); i++)
            _ = system.Contains(presentKeys[i]) && system.Contains(absentKeys[i]);

        var present = new long[lookups];
        var absent = new long[lookups];
        for (int i = 0; i < lookups; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            bool found = system.Contains(presentKeys[i]);
            long t1 = Stopwatch.GetTimestamp();
            bool missing = !system.Contains(absentKeys[i]);
            long t2 = Stopwatch.GetTimestamp();
            if (!found || !missing)
                throw new InvalidOperationException($"{system.Name}: Contains answered wrong (present {found}, absent {!missing}).");
            present[i] = t1 - t0;
            absent[i] = t2 - t1;
        }

        return (Latency.FromTicks(present), Latency.FromTicks(absent));
    }

    private static IndexPoint Extrapolate(string system, List<IndexPoint> measured, long target)
    {
        IndexPoint[] real = measured.Where(p => !p.Extrapolated).ToArray();
        if (real.Length == 0)
            return new IndexPoint(system, target, true, null, new Latency(0, 0, 0), new Latency(0, 0, 0));
        if (real.Length == 1)
            return real[0] with { Chunks = target, Extrapolated = true, BuildRecordsPerSecond = null };
        IndexPoint a = real[^2], b = real[^1];
        double x = Math.Log10(target), xa = Math.Log10(a.Chunks), xb = Math.Log10(b.Chunks);
        double Line(double ya, double yb) => Math.Max(yb, yb + (yb - ya) / (xb - xa) * (x - xb));
        Latency Fit(Latency la, Latency lb) => new(Line(la.P50Us, lb.P50Us), Line(la.P99Us, lb.P99Us), Line(la.MaxUs, lb.MaxUs));
        return new IndexPoint(system, target, true, null, Fit(a.Present, b.Present), Fit(a.Absent, b.Absent));
    }
}
