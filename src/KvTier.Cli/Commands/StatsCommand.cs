using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using KvTier.Cli.Stores;
using KvTier.Hosting;
using KvTier.Remote;
using KvTier.Remote.Protocol;
using KvTier.Storage;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier stats DIR [--json]</c> and <c>kvtier stats --server HOST:PORT --token-file F [--json]</c>: a store's or a
/// server's statistics under the names of the <c>KvTier</c> meter's instruments (KvTier.Hosting's
/// <c>KvTierInstruments</c>; src/KvTier.Hosting/README.md), one <c>name{tag=value} value</c> line each, or one JSON object.
/// A directory is opened briefly without a memory tier and closed again; its counters are those of the store's whole
/// life. Exit codes: 1 bad input (no store, locked by a running service, neither or both of DIR and --server),
/// <see cref="RemoteCommand.ServerUnavailable"/> when the server cannot be reached.
/// </summary>
internal static class StatsCommand
{
    // The instrument names, as KvTier.Hosting.KvTierInstruments spells them (the CLI does not reference KvTier.Hosting).
    private const string Tier = KvTierInstruments.TierTag;

    /// <summary>One value: an instrument, its tier tag (or null) and the value.</summary>
    internal readonly record struct Metric(string Name, string? TierValue, long Value);

    public static Command Create(CliContext context)
    {
        var dir = new Argument<string?>("DIR") { Description = "The store directory (segments/, index/, kvtier.lock); omit with --server", Arity = ArgumentArity.ZeroOrOne };
        var server = new Option<string?>("--server") { Description = "Ask a `kvtier serve` server instead: HOST:PORT", HelpName = "HOST:PORT" };
        var tokenFile = new Option<string?>("--token-file") { Description = "With --server: a file holding the shared token", HelpName = "FILE" };
        var tls = new Option<bool>("--tls") { Description = "With --server: speak TLS; the certificate must be trusted, or pinned with --tls-pin" };
        var tlsPin = new Option<string?>("--tls-pin") { Description = "With --server: accept exactly the certificate with this SHA-256 fingerprint; implies --tls", HelpName = "SHA256" };
        var timeout = new Option<double>("--timeout-s") { Description = "With --server: seconds to connect and to answer", DefaultValueFactory = _ => 30, HelpName = "SECONDS" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: {\"source\", \"kind\": \"store\"|\"server\", \"metrics\": {name: value or {tier: value}}}" };
        var command = new Command("stats",
            "Print a store's statistics (its counters over its whole life and its size now) or a server's (--server), under the names of the "
            + $"KvTier meter's instruments; exit {RemoteCommand.ServerUnavailable} when the server cannot be reached")
        {
            dir, server, tokenFile, tls, tlsPin, timeout, json,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string? directory = parse.GetValue(dir);
            string? endpoint = parse.GetValue(server);
            if ((directory is null) == (endpoint is null))
                throw new ArgumentException("kvtier stats takes a store directory or --server HOST:PORT (one of them).");
            bool asJson = parse.GetValue(json);
            if (directory is not null)
            {
                using KvStore kv = StoreAccess.OpenExisting(directory);
                Write(context.Output, kv.Options.Directory, "store", StoreMetrics(kv.GetStatistics()), asJson);
                return KvTierCli.Success;
            }

            string? token = parse.GetValue(tokenFile) ?? throw new ArgumentException("--server needs --token-file.");
            double seconds = parse.GetValue(timeout);
            if (!(seconds > 0))
                throw new ArgumentException("--timeout-s must be more than 0.");
            (string host, int port) = RemoteCommand.ParseServer(endpoint!);
            string? pin = parse.GetValue(tlsPin);
            var options = new KvCacheClientOptions
            {
                Host = host,
                Port = port,
                Secret = SharedSecret.ReadTokenFile(token),
                UseTls = parse.GetValue(tls) || pin is not null,
                PinnedCertificateSha256 = pin,
                ConnectTimeout = TimeSpan.FromSeconds(seconds),
                RequestTimeout = TimeSpan.FromSeconds(seconds),
            };
            try
            {
                RemoteStatistics statistics = ServerStatisticsAsync(options).GetAwaiter().GetResult();
                Write(context.Output, $"kvtier://{host}:{port}", "server", ServerMetrics(statistics), asJson);
                return KvTierCli.Success;
            }
            catch (RemoteProtocolException e) when (e.IsTransient && e.Code is not RemoteErrorCode.StoreFailure and not RemoteErrorCode.Internal and not RemoteErrorCode.Busy)
            {
                return context.Fail(RemoteCommand.ServerUnavailable, e.Message);
            }
            catch (RemoteProtocolException e)
            {
                return context.Fail(KvTierCli.Failure, e.Message);
            }
        }));
        return command;
    }

    private static async Task<RemoteStatistics> ServerStatisticsAsync(KvCacheClientOptions options)
    {
        await using KvCacheClient client = await KvCacheClient.ConnectAsync(options);
        return await client.GetStatisticsAsync();
    }

    /// <summary>A store's statistics: sizes now, counters over its life (<see cref="StoreStatistics.Lifetime"/>).</summary>
    internal static List<Metric> StoreMetrics(StoreStatistics s)
    {
        StoreCounters life = s.Lifetime;
        return
        [
            new(KvTierInstruments.StoreEntries, null, s.Entries),
            new(KvTierInstruments.StoreLiveBytes, null, s.LiveBytes),
            new(KvTierInstruments.StoreDeadBytes, null, s.DeadBytes),
            new(KvTierInstruments.StoreSegments, null, s.Segments),
            new(KvTierInstruments.StoreLookups, null, life.Gets),
            new(KvTierInstruments.StoreHits, "memory", life.MemoryHits),
            new(KvTierInstruments.StoreHits, "disk", life.DiskHits),
            new(KvTierInstruments.StoreMisses, "disk", life.Misses),
            new(KvTierInstruments.StorePuts, null, life.Puts),
            new(KvTierInstruments.StoreDeletes, null, life.Deletes),
            new(KvTierInstruments.StoreEvictions, "disk", life.Evictions),
            new(KvTierInstruments.StoreCorruptionEvents, "local", life.CorruptionEvents),
        ];
    }

    /// <summary>A server's statistics (format-spec/protocol.md §7.6): its store's counters since it opened, and its connections.</summary>
    internal static List<Metric> ServerMetrics(RemoteStatistics s) =>
    [
        new(KvTierInstruments.StoreEntries, null, s.Entries),
        new(KvTierInstruments.StoreLiveBytes, null, s.LiveBytes),
        new(KvTierInstruments.StoreDeadBytes, null, s.DeadBytes),
        new(KvTierInstruments.StoreSegments, null, s.Segments),
        new(KvTierInstruments.StoreMemoryBytes, null, s.MemoryBytes),
        new(KvTierInstruments.StoreLookups, null, s.MemoryHits + s.DiskHits + s.Misses),
        new(KvTierInstruments.StoreHits, "memory", s.MemoryHits),
        new(KvTierInstruments.StoreHits, "disk", s.DiskHits),
        new(KvTierInstruments.StoreMisses, "disk", s.Misses),
        new(KvTierInstruments.StorePuts, null, s.Puts),
        new(KvTierInstruments.StoreDeletes, null, s.Deletes),
        new(KvTierInstruments.StoreCorruptionEvents, "local", s.CorruptionEvents),
        // The server's own gauges (not instruments of an embedding service's meter).
        new("kvtier.server.connections", null, s.OpenConnections),
        new("kvtier.server.active_requests", null, s.ActiveRequests),
        new("kvtier.server.in_flight_put_bytes", null, s.InFlightPutBytes),
        new("kvtier.server.rejected_requests", null, s.RejectedRequests),
    ];

    private static void Write(TextWriter o, string source, string kind, List<Metric> metrics, bool asJson)
    {
        if (!asJson)
        {
            string what = kind == "store" ? "counters over the store's life" : "counters since the server's store opened";
            o.WriteLine($"# {source} ({kind}; {what})");
            foreach (Metric m in metrics)
            {
                string tags = m.TierValue is null ? "" : $"{{{Tier}={m.TierValue}}}";
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{m.Name}{tags} {m.Value}"));
            }
            return;
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("source", source);
            json.WriteString("kind", kind);
            json.WriteStartObject("metrics");
            for (int i = 0; i < metrics.Count; i++)
            {
                Metric m = metrics[i];
                if (m.TierValue is null)
                {
                    json.WriteNumber(m.Name, m.Value);
                    continue;
                }
                // Tagged values of one instrument are adjacent: one object keyed by tier.
                json.WriteStartObject(m.Name);
                for (; i < metrics.Count && metrics[i].Name == m.Name && metrics[i].TierValue is not null; i++)
                    json.WriteNumber(metrics[i].TierValue!, metrics[i].Value);
                i--;
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
