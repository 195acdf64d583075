using System.CommandLine;
using System.Globalization;
using KvTier.Cli.Records;
using KvTier.Cli.Stores;
using KvTier.IO;
using KvTier.Keys;
using KvTier.Remote;
using KvTier.Remote.Protocol;
using KvTier.Storage;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier remote put|get|list --server HOST:PORT --token-file F</c>: <c>kvtier store put|get|list</c> against a
/// <c>kvtier serve</c> server, with the same arguments (the server in place of the directory) and the same output.
/// Exit codes: those of <c>store</c> (4: the key is not stored), and <see cref="ServerUnavailable"/> when the server
/// cannot be reached (connection refused, timed out, lost, TLS failed).
/// </summary>
internal static class RemoteCommand
{
    /// <summary>The server could not be reached: connection refused, timed out or lost, or TLS failed.</summary>
    public const int ServerUnavailable = 5;

    public static Command Create(CliContext context)
    {
        var remote = new Command("remote",
            $"Put, get and list chunk records on a `kvtier serve` server, like `kvtier store` does in a directory; exit {ServerUnavailable} when the server cannot be reached");
        remote.Subcommands.Add(CreatePut(context));
        remote.Subcommands.Add(CreateGet(context));
        remote.Subcommands.Add(CreateList(context));
        return remote;
    }

    internal static Option<string> TokenFileOption() => new("--token-file")
    {
        Description = "A file holding the shared token (16 – 4096 bytes; surrounding whitespace ignored), e.g. from `openssl rand -hex 32`",
        Required = true,
        HelpName = "FILE",
    };

    private sealed record Connection(Option<string> Server, Option<string> TokenFile, Option<bool> Tls, Option<string?> TlsPin, Option<double> Timeout)
    {
        public IEnumerable<Option> All => [Server, TokenFile, Tls, TlsPin, Timeout];
    }

    private static Connection ConnectionOptions() => new(
        new Option<string>("--server") { Description = "The server: HOST:PORT, as `kvtier serve` printed it", Required = true, HelpName = "HOST:PORT" },
        TokenFileOption(),
        new Option<bool>("--tls") { Description = "Speak TLS (the server was started with --tls-cert); the certificate must be trusted, or pinned with --tls-pin" },
        new Option<string?>("--tls-pin") { Description = "Accept exactly the server certificate with this SHA-256 fingerprint (hex, colons allowed); implies --tls", HelpName = "SHA256" },
        new Option<double>("--timeout-s") { Description = "Seconds to connect, and seconds each operation may take", DefaultValueFactory = _ => 30, HelpName = "SECONDS" });

    private static Command CreatePut(CliContext context)
    {
        Connection connection = ConnectionOptions();
        var files = new Argument<string[]>("FILE") { Description = "Chunk record files (.kvt), stored in order", Arity = ArgumentArity.OneOrMore };
        var command = new Command("put",
            "Store each record file on the server under the key in its header (checked here first, every section checked by the server) and print "
            + "that key, in hex, on its own line as soon as the server acknowledged it durable; a record already stored under the key is replaced. "
            + "Stops at the first file that cannot be stored (exit 1); the keys printed before it stay stored")
        {
            files,
        };
        AddAll(command, connection);
        command.SetAction(parse => Run(context, parse, connection, async client =>
        {
            foreach (string file in parse.GetValue(files)!)
            {
                byte[] record = ChunkFiles.ReadRecordBytes(file);
                ChunkKey key;
                try
                {
                    key = await client.PutAsync(record);
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException($"{file}: {e.Message}", e);
                }
                catch (RemoteProtocolException e) when (e.Code is RemoteErrorCode.InvalidRecord or RemoteErrorCode.LimitExceeded)
                {
                    throw new RemoteProtocolException(e.Code, $"{file}: {e.Message}", e);
                }

                // PutAsync returned: the server acknowledged the record durable. Say so now.
                context.Output.WriteLine(key.ToString());
                context.Output.Flush();
            }
            return KvTierCli.Success;
        }));
        return command;
    }

    private static Command CreateGet(CliContext context)
    {
        Connection connection = ConnectionOptions();
        Option<string> key = StoreAccess.KeyOption("The record's chunk key: 64 hexadecimal digits");
        var output = new Option<FileInfo>("--out") { Description = "Where to write the record, bit-exact (replaced atomically if it exists)", Required = true, HelpName = "FILE" };
        var command = new Command("get",
            $"Write the record stored on the server under --key to --out, bit-exact, after checking every checksum and its key; exit {KvTierCli.KeyNotStored} "
            + $"when the key is not stored, {ServerUnavailable} when the server cannot be reached")
        {
            key, output,
        };
        AddAll(command, connection);
        command.SetAction(parse => Run(context, parse, connection, async client =>
        {
            ChunkKey chunk = StoreAccess.ParseKey(parse.GetValue(key)!);
            string path = parse.GetValue(output)!.FullName;
            byte[]? record = await client.GetAsync(chunk);
            if (record is null)
                return context.Fail(KvTierCli.KeyNotStored, $"key {chunk} is not stored on {client.Name}.");
            AtomicFile.WriteAllBytes(path, record);
            context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: {record.Length} bytes, key {chunk}, from {client.Name}"));
            return KvTierCli.Success;
        }));
        return command;
    }

    private static Command CreateList(CliContext context)
    {
        Connection connection = ConnectionOptions();
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text: " + StoreCommand.ListJsonShape + " (path: the server; segmentFile: null)" };
        var command = new Command("list",
            "List the server's records in key order, one tab-separated line each: key, kind, tokens, codec, level, bytes, segment, offset (on the server); "
            + "'#' lines are comments")
        {
            json,
        };
        AddAll(command, connection);
        command.SetAction(parse => Run(context, parse, connection, async client =>
        {
            var entries = new List<StoredEntry>();
            ChunkKey? after = null;
            while (true)
            {
                RemoteListPage page = await client.ListAsync(after);
                entries.AddRange(page.Entries);
                if (!page.More || page.Entries.Count == 0)
                    break;
                after = page.Entries[^1].Key;
            }
            if (parse.GetValue(json))
                RecordListWriter.WriteJson(context.Output, client.Name, entries, _ => null);
            else
                RecordListWriter.WriteText(context.Output, entries, client.Name);
            return KvTierCli.Success;
        }));
        return command;
    }

    private static void AddAll(Command command, Connection connection)
    {
        foreach (Option option in connection.All)
            command.Options.Add(option);
    }

    private static int Run(CliContext context, ParseResult parse, Connection connection, Func<KvCacheClient, Task<int>> body) => context.Guard(() =>
    {
        (string host, int port) = ParseServer(parse.GetValue(connection.Server)!);
        double seconds = parse.GetValue(connection.Timeout);
        if (!(seconds > 0))
            throw new ArgumentException("--timeout-s must be more than 0.");
        string? pin = parse.GetValue(connection.TlsPin);
        var options = new KvCacheClientOptions
        {
            Host = host,
            Port = port,
            Secret = SharedSecret.ReadTokenFile(parse.GetValue(connection.TokenFile)!),
            UseTls = parse.GetValue(connection.Tls) || pin is not null,
            PinnedCertificateSha256 = pin,
            ConnectTimeout = TimeSpan.FromSeconds(seconds),
            RequestTimeout = TimeSpan.FromSeconds(seconds),
        };
        try
        {
            return RunAsync(options, body).GetAwaiter().GetResult();
        }
        catch (RemoteProtocolException e) when (e.IsTransient && e.Code is not RemoteErrorCode.StoreFailure and not RemoteErrorCode.Internal and not RemoteErrorCode.Busy)
        {
            return context.Fail(ServerUnavailable, e.Message);
        }
        catch (RemoteProtocolException e)
        {
            return context.Fail(KvTierCli.Failure, e.Message);
        }
    });

    private static async Task<int> RunAsync(KvCacheClientOptions options, Func<KvCacheClient, Task<int>> body)
    {
        await using KvCacheClient client = await KvCacheClient.ConnectAsync(options);
        return await body(client);
    }

    /// <summary>A <c>--server HOST:PORT</c> value (an IPv6 host may be in brackets).</summary>
    /// <exception cref="ArgumentException">It is not HOST:PORT with a port from 1 to 65535.</exception>
    internal static (string Host, int Port) ParseServer(string server)
    {
        int colon = server.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(server.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new ArgumentException($"--server {server}: expected HOST:PORT, such as 127.0.0.1:7400.");
        return (server[..colon].Trim('[', ']'), port);
    }
}
