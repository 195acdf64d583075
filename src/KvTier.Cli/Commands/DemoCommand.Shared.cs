using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Prefetch.Decoding;
using KvTier.Reference;
using KvTier.Remote;
using KvTier.Storage;
using Spectre.Console;

namespace KvTier.Cli.Commands;

// kvtier demo --shared: two engine instances share one cache server. Instance A computes the prompts' KV and stores it
// (written behind to the server); instance B, with an empty store of its own, finds the prefixes at the server, loads
// them through its prefetcher and continues from them.
internal static partial class DemoCommand
{
    private static int RunShared(CliContext context, System.CommandLine.ParseResult parse, int steps, int chunkTokens, string? server, string? tokenFile)
    {
        LlamaModel model = CommonOptions.LoadModel(parse);
        if (steps < 1 || steps > model.Config.SeqLen)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"--steps must be within [1, {model.Config.SeqLen}] (the model's context length).");
        var keys = new ChunkKeys(model.ModelId, model.Layout, chunkTokens: chunkTokens);
        context.Console.MarkupLine($"[bold]KvTier demo, shared[/]: model [green]{Markup.Escape(model.ModelId)}[/], chunks of {chunkTokens} tokens, "
            + $"{model.Layout.BytesPerToken:N0} KV bytes per token");
        return RunSharedAsync(context, model, keys, steps, server, tokenFile).GetAwaiter().GetResult();
    }

    private static async Task<int> RunSharedAsync(CliContext context, LlamaModel model, ChunkKeys keys, int steps, string? server, string? tokenFile)
    {
        IAnsiConsole console = context.Console;
        string scratch = Path.Combine(Path.GetTempPath(), $"kvtier-demo-shared-{Environment.ProcessId}");
        Directory.CreateDirectory(scratch);
        KvCacheServer? started = null;
        try
        {
            (string host, int port, byte[] secret, started) = ConnectOrStart(console, server, tokenFile, scratch);
            Request[] requests = RunRequests(console, model, keys, steps);
            var client = new KvCacheClientOptions { Host = host, Port = port, Secret = secret };
            // The remote tier's default 2 s per call suits an engine (a slow server is a miss); the demo wants every chunk
            // shared even on a busy machine, where connecting and the first durable put can take longer.
            var tier = new RemoteTierOptions { Client = client, CallTimeout = TimeSpan.FromSeconds(30) };

            // Instance A: computes, stores locally, and its store writes every record behind to the server.
            long sent, bytesSent;
            await using (var tierA = new RemoteTier(tier))
            using (KvStore a = KvStore.Open(DemoStoreOptions(Path.Combine(scratch, "instance-a")) with { RemoteTier = tierA }))
            {
                var walks = new StoreWalk[requests.Length];
                for (int i = 0; i < requests.Length; i++)
                    walks[i] = Walk(a, model, keys, requests[i], storeMissing: true);
                await a.FlushRemoteAsync();
                StoreStatistics stats = a.GetStatistics();
                sent = stats.RemoteWrites;
                bytesSent = walks.Sum(w => w.BytesWritten);
                console.MarkupLine($"Instance A computed {requests.Length} prompts and stored {walks.Sum(w => w.Stored)} chunks in its own store; "
                    + $"[green]{sent} written behind to the server[/] ({bytesSent:N0} bytes), {stats.RemoteWritesDropped} dropped.");
            }

            // Instance B: an empty local store in front of the same server, as a second engine process would have.
            await using var tierB = new RemoteTier(tier);
            using KvStore b = KvStore.Open(DemoStoreOptions(Path.Combine(scratch, "instance-b")) with { RemoteTier = tierB });
            var timing = new LayerTimingDecoder(CpuSectionDecoder.Instance);
            using var prefetcher = new Prefetcher(b, new PrefetcherOptions { SkipChunksAfterMissing = true, Decoder = timing });
            var table = new Table().Border(TableBorder.Rounded).Title("Instance B: each request's prefix, looked up across its tiers, loaded, then loaded again");
            table.AddColumns("request", "prefix found", "chunks from the server", "first load", "second load (local)");
            var loads = new PrefetchedPrefix[requests.Length];
            for (int i = 0; i < requests.Length; i++)
            {
                long remoteBefore = b.GetStatistics().RemoteHits;
                int found = await b.LongestPrefixAsync(requests[i].PrefixKeys);
                loads[i] = await LoadAsync(prefetcher, timing, model, keys, requests[i], CancellationToken.None, found);
                long fetched = b.GetStatistics().RemoteHits - remoteBefore;
                PrefetchedPrefix again = await LoadAsync(prefetcher, timing, model, keys, requests[i], CancellationToken.None, found);
                table.AddRow(
                    (i + 1).ToString(CultureInfo.InvariantCulture),
                    found == 0 ? $"0 of {requests[i].PrefixKeys.Length}" : $"[green]{found} of {requests[i].PrefixKeys.Length}[/]",
                    fetched == 0 ? "0 (already local)" : fetched.ToString(CultureInfo.InvariantCulture),
                    Milliseconds(loads[i].WholeLoad) + " ms" + (i == 0 ? " (with connecting)" : ""),
                    Milliseconds(again.WholeLoad) + " ms");
            }
            console.Write(table);
            StoreStatistics bStats = b.GetStatistics();
            console.MarkupLine($"Instance B: {bStats.RemoteHits} chunks fetched from the server (each checked, then kept in its own store), "
                + $"{bStats.RemoteMisses} remote misses; later loads were local ({bStats.DiskHits} disk and {bStats.MemoryHits} memory hits). "
                + $"Server tier: {Markup.Escape(tierB.Name)}, circuit {tierB.Circuit}.");
            ReportReuse(console, model, keys, requests, loads[^1], "KV that instance B's prefetcher delivered (instance A computed it, the server passed it on)");
            return KvTierCli.Success;
        }
        finally
        {
            if (started is not null)
            {
                await started.DisposeAsync();
                started.Store.Dispose();
            }
            try
            {
                Directory.Delete(scratch, recursive: true);
            }
            catch (IOException)
            {
                // Left for the temp cleaner.
            }
        }
    }

    /// <summary>The server to share through: the one named by <c>--server</c>, or one started here over a scratch store.</summary>
    private static (string Host, int Port, byte[] Secret, KvCacheServer? Started) ConnectOrStart(IAnsiConsole console, string? server, string? tokenFile, string scratch)
    {
        if (server is not null)
        {
            if (tokenFile is null)
                throw new ArgumentException("--shared with --server needs --token-file (the server's shared secret).");
            (string host, int port) = RemoteCommand.ParseServer(server);
            console.MarkupLine($"Sharing through the server at [green]{Markup.Escape(server)}[/].");
            return (host, port, SharedSecret.ReadTokenFile(tokenFile), null);
        }

        byte[] secret = System.Text.Encoding.ASCII.GetBytes(Convert.ToHexString(RandomNumberGenerator.GetBytes(32)));
        KvStore store = KvStore.Open(DemoStoreOptions(Path.Combine(scratch, "server")));
        KvCacheServer started = KvCacheServer.Start(store, new KvCacheServerOptions { Endpoint = new IPEndPoint(IPAddress.Loopback, 0), Secret = secret });
        console.MarkupLine($"Started a cache server (what [grey]kvtier serve[/] runs) at [green]{started.Endpoint}[/] over a scratch store; "
            + "the two instances below reach it over TCP with a shared secret, each through its own connection.");
        return ("127.0.0.1", started.Endpoint.Port, secret, started);
    }
}
