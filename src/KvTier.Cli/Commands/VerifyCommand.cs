using System.CommandLine;
using System.Globalization;
using KvTier.Cli.Records;
using KvTier.Cli.Stores;
using KvTier.Format;
using KvTier.Format.Codecs;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier verify PATH</c>: checks record files completely — header, table, every section checksum, every payload
/// decoded — and reports non-zero padding. One line per file, then a summary; exit 1 when any file fails. A store
/// directory (one holding <c>index/</c> or <c>segments/</c>) is verified as a store instead
/// (<see cref="StoreVerification"/>; exit <see cref="KvTierCli.StoreProblems"/> on problems).
/// </summary>
internal static class VerifyCommand
{
    /// <summary>The extension of record files that a directory walk picks up.</summary>
    public const string RecordExtension = ".kvt";

    public static Command Create(CliContext context)
    {
        var path = new Argument<string>("PATH")
        {
            Description = "A record file; a store directory (holding index/ or segments/); or any other directory, whose *.kvt files (recursively, in ordinal path order) are verified",
        };
        var command = new Command("verify",
            "Verify chunk records completely (every checksum, every payload decoded, non-zero padding reported): 'OK path (codec level N, T tokens, B bytes)' "
            + "or 'FAIL path: Kind: message' per file, then a summary; exit 1 when any fails. "
            + "A store directory is verified as a store: every segment walked, every record's bytes, header, section checksums and index entry checked "
            + "(a progress bar on a terminal); 'PROBLEM segment S offset O key K: message' per problem, then a summary ending ': OK'; "
            + $"exit {KvTierCli.StoreProblems} when there are problems (corrupt records are dropped from the index, so that gets miss them)")
        {
            path,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string given = parse.GetValue(path)!;
            return Directory.Exists(given) && StoreAccess.IsStore(given)
                ? StoreVerification.Run(context.Output, context.Console, given)
                : Run(context.Output, given);
        }));
        return command;
    }

    internal static int Run(TextWriter o, string path)
    {
        string[] files = Collect(path);
        int failed = 0;
        int padded = 0;
        foreach (string file in files)
        {
            Outcome outcome = Verify(file);
            o.WriteLine(outcome.Line);
            if (!outcome.Ok)
                failed++;
            else if (outcome.NonZeroPadding)
                padded++;
        }

        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"verified {files.Length} {(files.Length == 1 ? "record" : "records")}: {files.Length - failed} OK, {failed} failed{(padded > 0 ? $", {padded} with non-zero padding" : "")}"));
        return failed == 0 ? KvTierCli.Success : KvTierCli.Failure;
    }

    private static string[] Collect(string path)
    {
        if (File.Exists(path))
            return [path];
        if (!Directory.Exists(path))
            throw new FileNotFoundException($"{path}: no such file or directory.", path);
        var options = new EnumerationOptions { RecurseSubdirectories = true, MatchType = MatchType.Simple, AttributesToSkip = 0, IgnoreInaccessible = false };
        string[] files = Directory.EnumerateFiles(path, "*" + RecordExtension, options)
            .Where(f => f.EndsWith(RecordExtension, StringComparison.Ordinal))
            .ToArray();
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    private readonly record struct Outcome(bool Ok, bool NonZeroPadding, string Line);

    private static Outcome Verify(string file)
    {
        try
        {
            byte[] bytes = ChunkFiles.ReadRecordBytes(file);
            ChunkRecord record = ChunkRecord.Parse(bytes); // no source name: the line names the file once
            record.Decode();
            ChunkRecordHeader h = record.Header;
            long padding = record.FirstNonZeroPadding();
            string line = string.Create(CultureInfo.InvariantCulture,
                $"OK {file} ({ChunkCodecs.Get(h.Codec).Name} level {h.Level}, {h.TokenCount} tokens, {h.RecordLength} bytes)");
            return padding < 0
                ? new Outcome(true, false, line)
                : new Outcome(true, true, string.Create(CultureInfo.InvariantCulture, $"{line}; non-zero padding at byte {padding}"));
        }
        catch (ChunkRecordException e)
        {
            return new Outcome(false, false, $"FAIL {file}: {OneLine(e.Message)}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Outcome(false, false, $"FAIL {file}: IOError: {OneLine(e.Message)}");
        }
        catch (NotSupportedException e)
        {
            // A codec this build does not implement: the record may be fine, but this build cannot vouch for it.
            return new Outcome(false, false, $"FAIL {file}: NotSupported: {OneLine(e.Message)}");
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
