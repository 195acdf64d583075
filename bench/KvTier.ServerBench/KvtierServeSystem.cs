using System.Diagnostics;
using System.Security.Cryptography;
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
        if (!File.Exists(cliDll))
            return (null, $"{cliDll} not found (dotnet build src/KvTier.Cli -c Release)");
        string directory = Path.Combine(scratch, "serve");
        Directory.CreateDirectory(directory);
        string tokenFile = Path.Combine(scratch, "token");
        byte[] secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).Select(c => (byte)c).ToArray();
        await File.WriteAllBytesAsync(tokenFile, secret);
        int port = RedisSystem.FreePort();
        string endpoint = $"127.0.0.1:{port}";
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in new[] { cliDll, "serve", "--listen", endpoint, "--data", Path.Combine(directory, "store"), "--token-file", tokenFile })
            start.ArgumentList.Add(arg);
        Process server = Process.Start(start)!;
        // Drain its logs so that a full pipe never stalls it; keep the last lines for a failed start.
        var lastLines = new Queue<string>();
        void Keep(string? line)
        {
            if (line is null)
                return;
            lock (lastLines)
            {
                lastLines.Enqueue(line);
                if (lastLines.Count > 5)
                    lastLines.Dequeue();
            }
        }
        server.OutputDataReceived += (_, e) => Keep(e.Data);
        server.ErrorDataReceived += (_, e) => Keep(e.Data);
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();

        var options = new KvCacheClientOptions { Host = "127.0.0.1", Port = port, Secret = secret, RequestTimeout = TimeSpan.FromSeconds(120) };
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                KvCacheClient client = await KvCacheClient.ConnectAsync(options);
                return (new KvtierServeSystem(server, client, directory, endpoint), null);
            }
            catch (Exception ex) when (attempt < 200)
            {
                if (server.HasExited)
                {
                    await server.WaitForExitAsync();
                    lock (lastLines)
                        return (null, $"kvtier serve exited with code {server.ExitCode} ({ex.Message}): {string.Join(" | ", lastLines)}");
                }
                await Task.Delay(100); // Still starting (the runtime, then the store).
            }
        }
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
