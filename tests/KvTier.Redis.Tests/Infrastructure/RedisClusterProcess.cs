using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>
/// A three-master Redis Cluster of private redis-server processes on 127.0.0.1 (no replicas, no persistence), created
/// with <c>redis-cli --cluster create</c>. Not thread-safe: one test drives it.
/// </summary>
public sealed class RedisClusterProcess : IDisposable
{
    private readonly List<Process> _nodes = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("kvtier-redis-cluster-").FullName;

    /// <summary>The nodes' <c>127.0.0.1:port</c> endpoints.</summary>
    public IReadOnlyList<string> Endpoints { get; private set; } = [];

    /// <summary>Starts three nodes, joins them into one cluster covering all slots, and waits until it reports ok.</summary>
    public static RedisClusterProcess Start()
    {
        var cluster = new RedisClusterProcess();
        try
        {
            cluster.Run();
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    private void Run()
    {
        string server = RedisEnvironment.ServerBinary ?? throw new InvalidOperationException("redis-server is not installed");
        string cli = Path.Combine(Path.GetDirectoryName(server)!, "redis-cli");
        var endpoints = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            int port = FreePort();
            var start = new ProcessStartInfo(server) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _directory };
            foreach (string arg in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf", "--dir", _directory })
                start.ArgumentList.Add(arg);
            Process node = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
            node.OutputDataReceived += (_, _) => { };
            node.ErrorDataReceived += (_, _) => { };
            node.BeginOutputReadLine();
            node.BeginErrorReadLine();
            _nodes.Add(node);
            endpoints.Add($"127.0.0.1:{port}");
        }
        Endpoints = endpoints;
        foreach (string endpoint in endpoints)
            WaitUntil(() => Cli(cli, endpoint, "ping").Contains("PONG"), $"{endpoint} did not answer PING");
        string created = Cli(cli, endpoints[0], ["--cluster", "create", .. endpoints, "--cluster-replicas", "0", "--cluster-yes"], withHost: false);
        if (!created.Contains("All 16384 slots covered", StringComparison.Ordinal))
            throw new InvalidOperationException($"redis-cli --cluster create failed: {created}");
        foreach (string endpoint in endpoints)
            WaitUntil(() => Cli(cli, endpoint, "cluster", "info").Contains("cluster_state:ok"), $"{endpoint} did not report cluster_state:ok");
    }

    private static string Cli(string cli, string endpoint, params string[] args) => Cli(cli, endpoint, args, withHost: true);

    private static string Cli(string cli, string endpoint, string[] args, bool withHost)
    {
        var start = new ProcessStartInfo(cli) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (withHost)
        {
            start.ArgumentList.Add("-p");
            start.ArgumentList.Add(endpoint.Split(':')[1]);
        }
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            throw new TimeoutException($"redis-cli {string.Join(' ', args)} did not finish in 30 s");
        }
        return output.Result + error.Result;
    }

    private static void WaitUntil(Func<bool> condition, string failure)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException(failure + " within 30 s");
            Thread.Sleep(100);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (Process node in _nodes)
        {
            try
            {
                node.Kill();
                node.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            node.Dispose();
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A node still closing its files: the temp folder is cleaned up by the system.
        }
    }

    private static int FreePort()
    {
        // Cluster nodes also listen on port + 10000 (the cluster bus): pick ports whose bus port is free too.
        for (int attempt = 0; attempt < 100; attempt++)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (port + 10000 > 65535)
                continue;
            try
            {
                using var bus = new TcpListener(IPAddress.Loopback, port + 10000);
                bus.Start();
                return port;
            }
            catch (SocketException)
            {
                // Bus port taken: try another.
            }
        }
        throw new InvalidOperationException("no free port pair for a cluster node");
    }
}
