using System.CommandLine;
using System.Globalization;
using KvTier.Cli.Stores;
using KvTier.Storage;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier compact DIR [--min-live F]</c>: offline compaction (format-spec/segment-file.md §7). Segments whose live
/// fraction is below F have their live records copied forward and their files removed.
/// </summary>
internal static class CompactCommand
{
    public static Command Create(CliContext context)
    {
        Argument<string> dir = StoreAccess.DirectoryArgument();
        double defaultFraction = new KvStoreOptions { Directory = "." }.CompactionMinLiveFraction;
        var minLive = new Option<double>("--min-live")
        {
            Description = string.Create(CultureInfo.InvariantCulture,
                $"Compact every segment whose live bytes are below this fraction of its written bytes, in (0, 1]; 1 compacts any segment with dead bytes. Default: {defaultFraction}"),
            DefaultValueFactory = _ => defaultFraction,
            HelpName = "F",
        };
        var command = new Command("compact",
            "Compact a store offline: copy the live records of low-live segments forward and remove those files (a progress bar on a terminal), "
            + "then print what was done and the segments and dead bytes before and after")
        {
            dir, minLive,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            double fraction = parse.GetValue(minLive);
            if (!(fraction > 0 && fraction <= 1))
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--min-live {fraction} must be in (0, 1]."));
            using KvStore kv = StoreAccess.OpenExisting(parse.GetValue(dir)!);
            StoreStatistics before = kv.GetStatistics();
            CompactionResult result = StoreProgressDisplay.Run(context.Console, "compacting", progress => kv.Compact(fraction, progress));
            StoreStatistics after = kv.GetStatistics();
            string damaged = result.DamagedBytes > 0 ? string.Create(CultureInfo.InvariantCulture, $", {result.DamagedBytes} damaged bytes skipped") : "";
            context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"compacted {kv.Options.Directory}: {result.SegmentsCompacted} {(result.SegmentsCompacted == 1 ? "segment" : "segments")} removed, "
                + $"{result.RecordsMoved} records moved ({result.BytesCopied} bytes copied, {result.TombstonesCarried} tombstones carried), "
                + $"{result.BytesReclaimed} bytes reclaimed{damaged}"));
            context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"segments {before.Segments} -> {after.Segments}, live bytes {before.LiveBytes} -> {after.LiveBytes}, dead bytes {before.DeadBytes} -> {after.DeadBytes}, "
                + $"{after.Entries} records"));
            return KvTierCli.Success;
        }));
        return command;
    }
}
