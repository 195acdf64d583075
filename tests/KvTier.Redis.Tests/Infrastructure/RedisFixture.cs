using KvTier.Keys;
using StackExchange.Redis;
using Xunit;

namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>
/// The Redis the shared tests use: <c>KVTIER_REDIS</c> if set, else a private redis-server for the whole test
/// collection. Each test works in its own namespace, so tests can run against a server others use too.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private RedisServerProcess? _server;
    private ConnectionMultiplexer? _raw;
    private Exception? _failure;

    /// <summary><c>host:port</c> of the Redis under test.</summary>
    public string Endpoint => _failure is null ? _endpoint! : throw new InvalidOperationException($"no Redis for the tests: {_failure.Message}", _failure);

    private string? _endpoint;

    /// <summary>A plain StackExchange.Redis connection to write and read values behind the tier's back.</summary>
    public IDatabase Raw => (_raw ?? throw new InvalidOperationException("no Redis for the tests", _failure)).GetDatabase();

    public async Task InitializeAsync()
    {
        if (RedisEnvironment.SkipReason is not null)
            return; // Every test here skips.
        try
        {
            if (RedisEnvironment.ConfiguredEndpoint is { } configured)
            {
                _endpoint = configured;
            }
            else
            {
                _server = RedisServerProcess.Start();
                _endpoint = _server.Endpoint;
            }
            _raw = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { _endpoint }, AbortOnConnectFail = true, ConnectTimeout = 5000 });
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
    }

    public async Task DisposeAsync()
    {
        if (_raw is not null)
        {
            // Leave a shared Redis (KVTIER_REDIS) as it was found: remove every key the tests wrote.
            foreach (IServer server in _raw.GetServers())
            {
                foreach (string ns in Namespaces)
                {
                    await foreach (RedisKey key in server.KeysAsync(pattern: ns + ":*"))
                        await _raw.GetDatabase().KeyDeleteAsync(key);
                }
            }
            await _raw.DisposeAsync();
        }
        _server?.Dispose();
    }

    /// <summary>A namespace no other test uses.</summary>
    public static string NewNamespace()
    {
        string ns = "t-" + Guid.NewGuid().ToString("N")[..16];
        Namespaces.Add(ns);
        return ns;
    }

    private static readonly System.Collections.Concurrent.ConcurrentBag<string> Namespaces = [];

    /// <summary>Options for a tier on the Redis under test.</summary>
    public RedisTierOptions Options(string ns, TimeSpan? ttl = null, long maxRecordBytes = 128L << 20, bool deleteCorrupt = true) => new()
    {
        Endpoints = [Endpoint],
        Namespace = ns,
        TimeToLive = ttl,
        MaxRecordBytes = maxRecordBytes,
        DeleteCorruptRecords = deleteCorrupt,
        OperationTimeout = TimeSpan.FromSeconds(5), // Generous: CI has 2 cores; these tests are not about timeouts.
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>The Redis key of a record, written out from format-spec/redis-tier.md §2 (not from the tier's code).</summary>
    public static RedisKey KeyOf(string ns, ChunkKey key) => $"{ns}:rec:{key}";
}
