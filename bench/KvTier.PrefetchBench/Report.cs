using System.Globalization;

namespace KvTier.PrefetchBench;

/// <summary>Console tables: one per case, then the targets.</summary>
internal static class Report
{
    public static void PrintCase(CaseResult c)
    {
        Console.WriteLine();
        Console.WriteLine(F($"{c.Name} ({c.Codec}): {c.Chunks} chunks x {c.Tokens} tokens, {c.StoredBytes / Mib:F1} MiB stored -> {c.DecodedBytes / Mib:F0} MiB f32; bit-exact with decode only: {(c.BitExact ? "yes" : "NO")}"));
        Console.WriteLine("  state            | prefetch options       | I/O only | decode | prefetch | c/max(a,b) | first layer | whole/L+k | naive    | naive/c | staging peak / budget | waits");
        Console.WriteLine("  -----------------+------------------------+----------+--------+----------+------------+-------------+-----------+----------+---------+-----------------------+------");
        foreach (StateResult s in c.States)
        {
            foreach (PrefetchResultRow p in s.Prefetch)
            {
                string options = F($"{p.Options} ({p.DecodeParallelism}d)");
                Console.WriteLine(F($"  {s.State,-16} | {options,-22} | {s.IoOnly.MedianMs,8:F2} | {s.DecodeOnly.MedianMs,6:F2} | {p.Total.MedianMs,8:F2} | {p.RatioToStages,9:F2}x | {p.FirstLayer.MedianMs,11:F2} | {p.FirstLayerBoundMs,9:F2} | {s.Naive.MedianMs,8:F2} | {p.NaiveToPrefetch,6:F2}x | {p.PeakStagingAllocatedBytes / Mib,8:F2} / {p.StagingBudgetBytes / Mib,6:F2} MiB | {p.MedianBackpressureWaits,4:F0}"));
            }
        }

        Console.WriteLine("  (ms, medians; (a) I/O only, (b) decode only, (c) prefetch, (d) naive; 2d = 2 decode workers; ratios are medians of per-request ratios; k = the first-layer slack; waits = reader waits for staging)");
        foreach (StateResult s in c.States)
        {
            if (s.MaxResidentBytesBeforeCold is long resident)
                Console.WriteLine(F($"  cold check: at most {resident / Mib:F1} MiB of segment pages cached before a cold request (warm-up records: {c.WarmUpBytes / Mib:F1} MiB)"));
        }

        foreach (StateResult s in c.States)
        {
            PrefetchResultRow d = s.Prefetch[0];
            Console.WriteLine(F($"  layers ready, {s.State} (ms): {string.Join(' ', d.LayerReadyMs.Select(x => x.ToString("F1", CultureInfo.InvariantCulture)))}"));
        }
    }

    public static void PrintTargets(IReadOnlyList<Target> targets)
    {
        Console.WriteLine();
        Console.WriteLine("== targets ==");
        foreach (Target t in targets)
            Console.WriteLine(F($"  {(t.Met ? "MET    " : "NOT MET")}  {t.Case,-8} {t.State,-16} {t.Options,-12}  {t.Name}: {t.Detail}"));
        Console.WriteLine(F($"  {targets.Count(t => t.Met)} of {targets.Count} met"));
    }

    private const double Mib = 1 << 20;

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
