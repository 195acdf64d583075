using System.Diagnostics;
using KvTier.Bench.Shared;
using KvTier.Keys;
using KvTier.StoreBench;
using KvTier.Remote;

namespace KvTier.ServerBench;

/// <summary>
/// A real <c>kvtier serve</c> process (the CLI's Release build) over a fresh store, reached through
/// <see cref="KvCacheClient"/>: authenticated, multiplexed, every put durable (fdatasync and index commit) before it
/// is acknowledged, every record checked on the way in and out.
/// </summary>
internal sealed class KvtierServeSystem : IBenchSystem
{
    private readonly Process _server;
    private readonly KvCacheClient _client;
    private readonly string _directory;

    private KvtierServeSystem(Process server, KvCacheClient client, string directory, string endpoint)
    {
        _server = server;
        _client = client;
        _directory = directory;
        Description = $"kvtier serve at {endpoint} (a KvStore: durable puts, checked records) through KvCacheClient (gets into a pooled array)";
    }

    public string Name => "kvtier serve";

    public string Description { get; }

    /// <summary>Starts <c>kvtier serve</c> from <paramref name="cliDll"/>; null with a reason when the CLI is not built.</summary>
    public static async Task<(KvtierServeSystem? System, string? Why)> StartAsync(string cliDll, string scratch)
    {
        (ServeLauncher.Started? started, string? why) = await ServeLauncher.StartAsync(cliDll, scratch, TimeSpan.FromSeconds(120));
        return started is null ? (null, why) : (new KvtierServeSystem(started.Server, started.Client, started.Directory, started.Endpoint), null);
    }

    public Task PutAsync(BenchRecord record) => _client.PutAsync(record.Bytes);

    // Into a pooled array, as an engine reading many records would: a new 32 MiB array per get costs its page faults
    // and garbage collections in this process, not the server's or the network's time.
    public async Task<int> GetAsync(BenchRecord record)
    {
        using PooledRecord got = await _client.GetAsync(record.Key, Pool) ?? throw new InvalidOperationException($"kvtier serve missed {record.Key}.");
        return got.Length;
    }

    private static readonly System.Buffers.ArrayPool<byte> Pool = System.Buffers.ArrayPool<byte>.Create(maxArrayLength: 64 << 20, maxArraysPerBucket: 4);

    public Task<int>? LookupAsync(ChunkKey[] keys) => _client.LongestPrefixAsync(keys);

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        if (!_server.HasExited)
        {
            _server.Kill(); // SIGKILL: the store recovers on the next open; this one is scratch.
            await _server.WaitForExitAsync();
        }
        _server.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
