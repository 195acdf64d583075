using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KvTier.Keys;
using KvTier.StoreBench;
using KvTier.Redis;

namespace KvTier.ServerBench;

/// <summary>
/// Redis through KvTier's Redis tier (<see cref="RedisTier"/>: envelope, checksum and record verified on every get), on
/// a private <c>redis-server</c> started for the run (no persistence), or the one named by <c>KVTIER_REDIS</c>.
/// </summary>
internal sealed class RedisSystem : IBenchSystem
{
    private readonly RedisTier _tier;
    private readonly Process? _server;

    private RedisSystem(RedisTier tier, Process? server, string endpoint, string? aofDirectory)
    {
        _tier = tier;
        _server = server;
        _aofDirectory = aofDirectory;
        Name = aofDirectory is null ? "redis" : "redis aof-always";
        Description = aofDirectory is null
            ? $"redis-server at {endpoint} (memory only: no RDB, no AOF) through KvTier.Redis's RedisTier"
            : $"redis-server at {endpoint} with appendonly yes, appendfsync always (each write fsynced before the reply, as kvtier's puts are) through RedisTier";
    }

    private readonly string? _aofDirectory;

    public string Name { get; }

    public string Description { get; }

    /// <summary>
    /// Starts (or finds) Redis; null with a reason when there is none. With <paramref name="durableIn"/>, always a private
    /// server whose append-only file (fsync on every write) goes in that folder.
    /// </summary>
    public static async Task<(RedisSystem? System, string? Why)> StartAsync(string? durableIn = null)
    {
        string? endpoint = durableIn is null ? Environment.GetEnvironmentVariable("KVTIER_REDIS") : null;
        Process? server = null;
        if (string.IsNullOrEmpty(endpoint))
        {
            string? binary = FindOnPath("redis-server");
            if (binary is null)
                return (null, "no redis-server on PATH and KVTIER_REDIS unset (apt-get install -y redis-server)");
            int port = FreePort();
            string persistence = durableIn is null
                ? "--appendonly no"
                : $"--appendonly yes --appendfsync always --auto-aof-rewrite-percentage 0 --dir {durableIn}";
            if (durableIn is not null)
                Directory.CreateDirectory(durableIn);
            server = Process.Start(new ProcessStartInfo(binary, $"--port {port} --bind 127.0.0.1 --save \"\" {persistence} --protected-mode no")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            endpoint = $"127.0.0.1:{port}";
        }

        var options = new RedisTierOptions
        {
            Endpoints = [endpoint],
            Namespace = $"kvtier-bench-{Environment.ProcessId}",
            OperationTimeout = TimeSpan.FromSeconds(60),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            MaxRecordBytes = 64L << 20,
        };
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                RedisTier tier = await RedisTier.ConnectAsync(options);
                return (new RedisSystem(tier, server, endpoint, durableIn), null);
            }
            catch (Exception) when (attempt < 50)
            {
                await Task.Delay(100); // The server is still starting.
            }
        }
    }

    public async Task PutAsync(BenchRecord record)
    {
        if (!await _tier.PutAsync(record.Bytes))
            throw new InvalidOperationException($"Redis dropped the put of {record.Key}.");
    }

    public async Task<int> GetAsync(BenchRecord record) =>
        (await _tier.TryGetAsync(record.Key) ?? throw new InvalidOperationException($"Redis missed {record.Key}.")).Length;

    public Task<int>? LookupAsync(ChunkKey[] keys) => _tier.LongestPrefixAsync(keys).AsTask();

    public async ValueTask DisposeAsync()
    {
        await _tier.DisposeAsync();
        if (_server is { HasExited: false })
        {
            _server.Kill();
            await _server.WaitForExitAsync();
        }
        _server?.Dispose();
        if (_aofDirectory is not null)
        {
            try
            {
                Directory.Delete(_aofDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    internal static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            string path = Path.Combine(dir, name);
            if (File.Exists(path))
                return path;
        }
        return null;
    }

    internal static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
