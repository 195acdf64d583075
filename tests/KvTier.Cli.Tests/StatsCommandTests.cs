using System.Text.Json;
using KvTier.Remote;
using KvTier.Storage;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier stats DIR</c> and <c>kvtier stats --server</c> print statistics under the KvTier meter's instrument names,
/// as text or one JSON object; bad input exits 1 and an unreachable server 5.
/// </summary>
public sealed class StatsCommandTests : IDisposable
{
    private readonly StoreFixture _files = new();

    public void Dispose() => _files.Dispose();

    private void Fill()
    {
        using KvStore store = KvStore.Open(new KvStoreOptions { Directory = _files.Store, MemoryCapacityBytes = 0, SegmentSizeBytes = 1 << 20 });
        store.Put(TestRecords.Create(1));
        store.Put(TestRecords.Create(2));
        Assert.True(store.TryGet(TestRecords.Key(1), out RecordLease? lease));
        lease.Dispose();
        Assert.False(store.TryGet(TestRecords.Key(3), out _));
    }

    [Fact]
    public void A_store_prints_its_lifetime_counters_under_instrument_names()
    {
        Fill();
        CliResult result = CliRunner.Run("stats", _files.Store);
        Assert.True(result.ExitCode == 0, result.Error);
        string[] lines = StoreFixture.Lines(result.Output);
        Assert.StartsWith("# ", lines[0], StringComparison.Ordinal);
        Assert.Contains("kvtier.store.entries 2", lines);
        Assert.Contains("kvtier.store.puts 2", lines);
        Assert.Contains("kvtier.store.hits{kvtier.tier=disk} 1", lines);
        Assert.Contains("kvtier.store.misses{kvtier.tier=disk} 1", lines);
        Assert.Contains("kvtier.store.lookups 2", lines);
        Assert.Contains("kvtier.store.corruption_events{kvtier.tier=local} 0", lines);
    }

    [Fact]
    public void Json_is_one_object_with_tagged_values_grouped_by_tier()
    {
        Fill();
        CliResult result = CliRunner.Run("stats", _files.Store, "--json");
        Assert.True(result.ExitCode == 0, result.Error);
        using JsonDocument doc = JsonDocument.Parse(result.Output);
        Assert.Equal("store", doc.RootElement.GetProperty("kind").GetString());
        JsonElement metrics = doc.RootElement.GetProperty("metrics");
        Assert.Equal(2, metrics.GetProperty("kvtier.store.entries").GetInt64());
        Assert.Equal(1, metrics.GetProperty("kvtier.store.hits").GetProperty("disk").GetInt64());
        Assert.Equal(0, metrics.GetProperty("kvtier.store.hits").GetProperty("memory").GetInt64());
        Assert.Equal(1, metrics.GetProperty("kvtier.store.misses").GetProperty("disk").GetInt64());
    }

    [Fact]
    public void Bad_input_exits_1()
    {
        Assert.Equal(1, CliRunner.Run("stats").ExitCode);
        Assert.Equal(1, CliRunner.Run("stats", _files.PathOf("no-store")).ExitCode);
        Assert.Equal(1, CliRunner.Run("stats", _files.Store, "--server", "127.0.0.1:1").ExitCode);
        Assert.Equal(1, CliRunner.Run("stats", "--server", "127.0.0.1:7400").ExitCode); // no --token-file
    }

    [Fact]
    public async Task A_server_prints_its_statistics_and_an_unreachable_one_exits_5()
    {
        const string token = "cli-stats-token-0123456789abcdef";
        string tokenFile = _files.PathOf("token");
        File.WriteAllText(tokenFile, token);
        KvStore store = KvStore.Open(new KvStoreOptions { Directory = _files.Store, MemoryCapacityBytes = 0, SegmentSizeBytes = 1 << 20 });
        store.Put(TestRecords.Create(5));
        KvCacheServer server = KvCacheServer.Start(store, new KvCacheServerOptions { Secret = SharedSecret.FromString(token) }, ownsStore: true);
        string endpoint = $"127.0.0.1:{server.Endpoint.Port}";
        try
        {
            CliResult result = CliRunner.Run("stats", "--server", endpoint, "--token-file", tokenFile, "--json");
            Assert.True(result.ExitCode == 0, result.Error);
            using JsonDocument doc = JsonDocument.Parse(result.Output);
            Assert.Equal("server", doc.RootElement.GetProperty("kind").GetString());
            Assert.Equal(1, doc.RootElement.GetProperty("metrics").GetProperty("kvtier.store.entries").GetInt64());
            Assert.True(doc.RootElement.GetProperty("metrics").GetProperty("kvtier.server.connections").GetInt64() >= 1);

            CliResult text = CliRunner.Run("stats", "--server", endpoint, "--token-file", tokenFile);
            Assert.Contains("kvtier.store.puts 1", StoreFixture.Lines(text.Output));
        }
        finally
        {
            await server.DisposeAsync();
        }

        CliResult down = CliRunner.Run("stats", "--server", endpoint, "--token-file", tokenFile, "--timeout-s", "2");
        Assert.Equal(5, down.ExitCode);
    }
}
