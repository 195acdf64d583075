using System.CommandLine;
using System.Globalization;
using KvTier.Cli.Stores;
using KvTier.Storage;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier repair DIR</c>: rebuilds a store's index from its segment files alone (format-spec/metadata-schema.md §6),
/// for a store whose index is missing or damaged.
/// </summary>
internal static class RepairCommand
{
    public static Command Create(CliContext context)
    {
        Argument<string> dir = StoreAccess.DirectoryArgument();
        var command = new Command("repair",
            "Rebuild a store's index from its segment files (every valid frame read, the newest version of each key kept, tombstones applied, "
            + "a torn tail cut; the old index kept as index.damaged), with a progress bar on a terminal; prints what it did. The store must not be open")
        {
            dir,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string directory = parse.GetValue(dir)!;
            StoreAccess.RequireStore(directory);
            RepairResult r = StoreProgressDisplay.Run(context.Console, "rebuilding the index", progress => KvStore.Repair(directory, progress));
            TextWriter o = context.Output;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"repaired {Path.GetFullPath(directory)}: {r.SegmentsScanned} {(r.SegmentsScanned == 1 ? "segment" : "segments")} scanned, {r.SegmentsSkipped} skipped; "
                + $"{r.RecordsIndexed} records indexed, {r.RecordsSuperseded} superseded or deleted; "
                + $"{r.DamagedBytes} damaged bytes skipped, {r.TruncatedBytes} torn bytes cut"));
            foreach (string note in r.Notes)
                o.WriteLine($"note: {note}");
            return KvTierCli.Success;
        }));
        return command;
    }
}
