using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using KvTier.Cli.Records;
using KvTier.Cli.Stores;
using KvTier.Format;
using KvTier.IO;
using KvTier.Keys;
using KvTier.Storage;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier store put|get|list|delete</c>: chunk records in and out of a store directory (a <see cref="KvStore"/>:
/// segment files under an index), one command at a time. Each opens the store, does its work and closes it; a store
/// another process holds open is refused with exit 1.
/// </summary>
internal static class StoreCommand
{
    /// <summary>The shape of <c>store list --json</c>'s output, as the help shows it.</summary>
    internal const string ListJsonShape =
        "{ path, records: [ { key (64 hex), kind (prefix|segment), tokens, codec (name), codecId, level, bytes, segment (id), "
        + "segmentFile, offset (of the record in the segment file), sequence } ] }";

    public static Command Create(CliContext context)
    {
        var store = new Command("store", "Put, get, list and delete chunk records in a store directory (created by the first put)");
        store.Subcommands.Add(CreatePut(context));
        store.Subcommands.Add(CreateGet(context));
        store.Subcommands.Add(CreateList(context));
        store.Subcommands.Add(CreateDelete(context));
        return store;
    }

    private static Command CreatePut(CliContext context)
    {
        Argument<string> dir = StoreAccess.DirectoryArgument("The store directory; created, with an empty store, when missing");
        var files = new Argument<string[]>("FILE") { Description = "Chunk record files (.kvt), stored in order", Arity = ArgumentArity.OneOrMore };
        Option<long> memory = StoreAccess.MemoryMiB();
        Option<double> disk = StoreAccess.DiskGiB();
        Option<int> segment = StoreAccess.SegmentMiB();
        var command = new Command("put",
            "Store each record file under the key in its header (every section checked first) and print that key, in hex, on its own line "
            + "as soon as the record is durable (synced with its index entry); a record already stored under the key is replaced. "
            + "Stops at the first file that cannot be stored (exit 1); the keys printed before it stay stored")
        {
            dir, files, memory, disk, segment,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            using KvStore kv = StoreAccess.OpenForWriting(parse.GetValue(dir)!, parse.GetValue(memory), parse.GetValue(disk), parse.GetValue(segment));
            foreach (string file in parse.GetValue(files)!)
            {
                byte[] record = ChunkFiles.ReadRecordBytes(file);
                ChunkKey key;
                try
                {
                    key = kv.Put(record);
                }
                catch (KvStoreException e) when (e.Kind is StoreErrorKind.InvalidRecord or StoreErrorKind.RecordTooLarge)
                {
                    throw new KvStoreException(e.Kind, $"{file}: {e.Message}", e);
                }

                // Put returned: the record is durable. Say so now, not when the last file is done.
                context.Output.WriteLine(key.ToString());
                context.Output.Flush();
            }

            return KvTierCli.Success;
        }));
        return command;
    }

    private static Command CreateGet(CliContext context)
    {
        Argument<string> dir = StoreAccess.DirectoryArgument();
        Option<string> key = StoreAccess.KeyOption("The record's chunk key: 64 hexadecimal digits");
        var output = new Option<FileInfo>("--out") { Description = "Where to write the record, bit-exact (replaced atomically if it exists)", Required = true, HelpName = "FILE" };
        var command = new Command("get",
            $"Write the record stored under --key to --out, bit-exact, after checking every checksum; exit {KvTierCli.KeyNotStored} when the key is not stored "
            + "(a record that fails its checks is dropped and reported as not stored)")
        {
            dir, key, output,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string directory = parse.GetValue(dir)!;
            ChunkKey chunk = StoreAccess.ParseKey(parse.GetValue(key)!);
            string path = parse.GetValue(output)!.FullName;
            using KvStore kv = StoreAccess.OpenExisting(directory);
            bool indexed = kv.Contains(chunk);
            if (!kv.TryGet(chunk, out RecordLease? lease))
            {
                return context.Fail(KvTierCli.KeyNotStored, indexed
                    ? $"key {chunk} was stored in {directory} but its record failed its checks; it has been dropped (run `kvtier verify {directory}`)."
                    : $"key {chunk} is not stored in {directory}.");
            }

            using (lease)
            {
                // The lease's bytes passed the whole-record checksum; the section checksums are checked here too, so
                // that what is written is exactly what was put.
                foreach (SectionEntry section in lease.Record.Sections)
                {
                    if (!lease.TryGetSection(section.Layer, section.Kind, out _))
                        return context.Fail(KvTierCli.KeyNotStored, $"key {chunk}: layer {section.Layer} {section.Kind} failed its checksum; the record has been dropped.");
                }

                AtomicFile.WriteAllBytes(path, lease.Bytes.Span);
                context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{path}: {lease.Bytes.Length} bytes, key {chunk}, from the {StoreAccess.TierName(lease.Tier)} tier"));
            }

            return KvTierCli.Success;
        }));
        return command;
    }

    private static Command CreateList(CliContext context)
    {
        Argument<string> dir = StoreAccess.DirectoryArgument();
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text: " + ListJsonShape };
        var command = new Command("list",
            "List the stored records in key order, one tab-separated line each: key, kind, tokens, codec, level, bytes, segment, offset; "
            + "'#' lines are comments")
        {
            dir, json,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string directory = parse.GetValue(dir)!;
            using KvStore kv = StoreAccess.OpenExisting(directory);
            IReadOnlyList<StoredEntry> entries = kv.Enumerate();
            if (parse.GetValue(json))
                WriteListJson(context.Output, kv, entries);
            else
                WriteListText(context.Output, kv, entries);
            return KvTierCli.Success;
        }));
        return command;
    }

    private static void WriteListText(TextWriter o, KvStore kv, IReadOnlyList<StoredEntry> entries) =>
        RecordListWriter.WriteText(o, entries, kv.Options.Directory);

    private static void WriteListJson(TextWriter o, KvStore kv, IReadOnlyList<StoredEntry> entries)
    {
        IReadOnlyDictionary<ulong, string> files = kv.GetSegments().ToDictionary(s => s.Id, s => s.Path);
        RecordListWriter.WriteJson(o, kv.Options.Directory, entries, id => files.GetValueOrDefault(id));
    }

    private static Command CreateDelete(CliContext context)
    {
        Argument<string> dir = StoreAccess.DirectoryArgument();
        Option<string> key = StoreAccess.KeyOption("The chunk key to delete: 64 hexadecimal digits");
        var command = new Command("delete",
            $"Delete the record stored under --key (durable when the command returns; `kvtier compact` reclaims its bytes); exit {KvTierCli.KeyNotStored} when the key is not stored")
        {
            dir, key,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string directory = parse.GetValue(dir)!;
            ChunkKey chunk = StoreAccess.ParseKey(parse.GetValue(key)!);
            using KvStore kv = StoreAccess.OpenExisting(directory);
            if (!kv.Delete(chunk))
                return context.Fail(KvTierCli.KeyNotStored, $"key {chunk} is not stored in {directory}.");
            context.Output.WriteLine($"deleted {chunk}");
            return KvTierCli.Success;
        }));
        return command;
    }
}
