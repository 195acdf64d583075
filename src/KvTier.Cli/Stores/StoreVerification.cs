using System.Globalization;
using KvTier.Storage;
using Spectre.Console;

namespace KvTier.Cli.Stores;

/// <summary>
/// What <c>kvtier verify DIR</c> does with a store: <see cref="KvStore.Verify"/> over every segment and every indexed
/// record (bytes, header, each section checksum, trailer, RocksDB entry), one line per problem, then a summary.
/// Exit <see cref="KvTierCli.StoreProblems"/> when anything is wrong.
/// </summary>
internal static class StoreVerification
{
    /// <summary>Opens and verifies the store in <paramref name="directory"/>.</summary>
    public static int Run(TextWriter o, IAnsiConsole console, string directory)
    {
        using KvStore kv = StoreAccess.OpenExisting(directory);
        long droppedAtOpen = kv.GetStatistics().CorruptionEvents;
        VerifyResult r = StoreProgressDisplay.Run(console, "verifying", progress => kv.Verify(progress));
        foreach (VerifyProblem p in r.Problems)
        {
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"PROBLEM segment {p.SegmentId} offset {p.Offset} key {p.Key ?? "-"}: {p.Message.ReplaceLineEndings(" ")}"));
        }

        bool ok = r.Ok && droppedAtOpen == 0;
        if (droppedAtOpen > 0)
        {
            // Opening dropped index entries whose segment file was missing or too short: data is gone even though what
            // remains verifies.
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"PROBLEM opening the store dropped {droppedAtOpen} indexed {(droppedAtOpen == 1 ? "record" : "records")} whose segment file is missing or too short"));
        }

        string summary = string.Create(CultureInfo.InvariantCulture,
            $"verified store {kv.Options.Directory}: {Count(r.RecordsChecked, "record")} in {Count(r.SegmentsChecked, "segment")} ({r.BytesChecked} bytes)");
        o.WriteLine(ok
            ? summary + ": OK"
            : summary + string.Create(CultureInfo.InvariantCulture,
                $": {Count(r.Problems.Count + (droppedAtOpen > 0 ? 1 : 0), "problem")}, {Count(r.RecordsCorrupt, "corrupt record")} "
                + $"(dropped from the index: gets now miss them), {r.DamagedBytes} damaged bytes"));
        return ok ? KvTierCli.Success : KvTierCli.StoreProblems;
    }

    private static string Count(long n, string noun) => string.Create(CultureInfo.InvariantCulture, $"{n} {noun}{(n == 1 ? "" : "s")}");
}
