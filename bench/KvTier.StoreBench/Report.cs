using System.Globalization;

namespace KvTier.StoreBench;

/// <summary>The console tables: per case, puts and gets with their ratios to the limits and to file-per-chunk.</summary>
internal static class Report
{
    public static void PrintHeader(ChunkCase c, long recordBytes, long totalBytes, int batch)
    {
        Console.WriteLine();
        Console.WriteLine(F($"== {c.Name}: {c.Description}; {c.Count:N0} records of {Size(recordBytes)} ({Size(totalBytes)}); batches of {batch} =="));
    }

    public static void PrintLimits(RawLimits l, bool again = false)
    {
        Console.WriteLine(F($"{(again ? "limits, best of before and after" : "limits")}: direct-I/O write {Rate(l.DirectWriteBytesPerSecond)} (fsync per record {Rate(l.DirectWriteSyncEachBytesPerSecond)}) | ")
            + F($"cold sequential read {Rate(l.ColdReadBytesPerSecond)} (buffered {Rate(l.ColdBufferedReadBytesPerSecond)}, O_DIRECT {Rate(l.ColdDirectReadBytesPerSecond)}) | ")
            + F($"memcpy {Rate(l.MemcpyBytesPerSecond)}"));
    }

    public static void PrintCase(CaseResult c)
    {
        PutResult? filesPut = c.Puts.FirstOrDefault(p => p.System == "files");
        Console.WriteLine();
        Console.WriteLine($"{"put",-34} {"MB/s",9} {"rec/s",10} {"p50 us",10} {"p99 us",10} {"max us",10} {"vs dio",7} {"vs files",8}  note");
        foreach (PutResult p in c.Puts)
        {
            string shape = p.Concurrency > 1 ? $"x{p.Concurrency} concurrent" : $"{p.RecordsPerCall}/call";
            string note = p.SettleSeconds is > 0.01 ? F($"+{p.SettleSeconds:F2} s flush after") : "";
            if (p.GcPauseMs >= 1)
                note = (note.Length > 0 ? note + "; " : "") + F($"GC pauses {p.GcPauseMs:F0} ms");
            if (p.Records < c.Records)
                note = (note.Length > 0 ? note + "; " : "") + F($"first {p.Records:N0} records");
            Console.WriteLine(F($"{p.System + " " + p.Mode + " (" + shape + ")",-34} {p.BytesPerSecond / 1e6,9:F1} {p.RecordsPerSecond,10:F0} {p.CallLatency.P50Us,10:F1} {p.CallLatency.P99Us,10:F1} {p.CallLatency.MaxUs,10:F0} ")
                + F($"{p.BytesPerSecond / c.Limits.DirectWriteBytesPerSecond,6:F2}x {Versus(p.BytesPerSecond, filesPut?.BytesPerSecond),8}  {note}"));
        }

        Console.WriteLine();
        Console.WriteLine($"{"get",-34} {"cache",5} {"MB/s",9} {"rec/s",10} {"p50 us",10} {"p99 us",10} {"max us",10} {"vs limit",8} {"vs files",8}  note");
        foreach (GetResult g in c.Gets)
        {
            GetResult? files = c.Gets.FirstOrDefault(f => f.System == "files" && f.Cache == g.Cache);
            double limit = g.Cache == "cold" ? c.Limits.ColdReadBytesPerSecond : c.Limits.MemcpyBytesPerSecond;
            string note = g.Note ?? "";
            if (g.GcPauseMs >= 1)
                note = (note.Length > 0 ? note + "; " : "") + F($"GC pauses {g.GcPauseMs:F0} ms");
            if (g.ResidentAfterDrop is > 0.001)
                note = (note.Length > 0 ? note + "; " : "") + F($"{g.ResidentAfterDrop:P1} still cached after drop");
            Console.WriteLine(F($"{g.System + " " + g.Mode,-34} {g.Cache,5} {g.BytesPerSecond / 1e6,9:F1} {g.RecordsPerSecond,10:F0} {g.Latency.P50Us,10:F1} {g.Latency.P99Us,10:F1} {g.Latency.MaxUs,10:F0} ")
                + F($"{g.BytesPerSecond / limit,7:F2}x {Versus(g.BytesPerSecond, files?.BytesPerSecond),8}  {note}"));
        }

        Console.WriteLine("(vs limit: warm against memcpy, cold against the cold sequential read; vs files: the same cache state)");
    }

    public static void PrintIndex(IReadOnlyList<IndexPoint> points)
    {
        Console.WriteLine();
        Console.WriteLine($"{"lookup",-14} {"chunks",10} {"present p50",12} {"p99",9} {"absent p50",11} {"p99",9} {"build rec/s",12}");
        foreach (IndexPoint p in points)
        {
            Console.WriteLine(F($"{p.System,-14} {p.Chunks,10:N0} {p.Present.P50Us,9:F2} us {p.Present.P99Us,6:F2} us {p.Absent.P50Us,8:F2} us {p.Absent.P99Us,6:F2} us ")
                + (p.Extrapolated ? "  EXTRAPOLATED" : F($"{p.BuildRecordsPerSecond,12:N0}")));
        }
    }

    public static string Size(long bytes) => bytes >= 1L << 30 ? F($"{bytes / (double)(1L << 30):F2} GiB")
        : bytes >= 1L << 20 ? F($"{bytes / (double)(1L << 20):F1} MiB")
        : F($"{bytes / 1024.0:F1} KiB");

    private static string Rate(double bytesPerSecond) => bytesPerSecond >= 1e9 ? F($"{bytesPerSecond / 1e9:F2} GB/s") : F($"{bytesPerSecond / 1e6:F0} MB/s");

    private static string Versus(double value, double? baseline) => baseline is null or 0 ? "" : F($"{value / baseline:F2}x");

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
