using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using KvTier.Remote;

namespace KvTier.E2eBench;

/// <summary>
/// A real <c>kvtier serve</c> process (the CLI's Release build) on loopback over a fresh store, with a token file, as
/// the server harness starts it. The records are put through <see cref="Client"/>; the engine's store reaches it through
/// a <see cref="RemoteTier"/> built from <see cref="ClientOptions"/>.
/// </summary>
/// <remarks>Used from the harness's one thread.</remarks>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _server;

    private ServeProcess(Process server, KvCacheClient client, KvCacheClientOptions options, string endpoint)
    {
        _server = server;
        Client = client;
        ClientOptions = options;
        Endpoint = endpoint;
    }

    public KvCacheClient Client { get; }

    public KvCacheClientOptions ClientOptions { get; }

    public string Endpoint { get; }

    /// <summary>Starts <c>kvtier serve</c> from <paramref name="cliDll"/>; null with a reason when it cannot.</summary>
    public static async Task<(ServeProcess? Server, string? Why)> StartAsync(string cliDll, string scratch)
    {
        if (!File.Exists(cliDll))
            return (null, $"{cliDll} not found (dotnet build src/KvTier.Cli -c Release)");
        string directory = Path.Combine(scratch, "serve");
        Directory.CreateDirectory(directory);
        string tokenFile = Path.Combine(scratch, "token");
        byte[] secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).Select(c => (byte)c).ToArray();
        await File.WriteAllBytesAsync(tokenFile, secret);
        int port = FreePort();
        string endpoint = $"127.0.0.1:{port}";
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { cliDll, "serve", "--listen", endpoint, "--data", Path.Combine(directory, "store"), "--token-file", tokenFile })
            start.ArgumentList.Add(arg);
        Process server = Process.Start(start)!;
        // A harness that dies of an exception must not leave the server behind.
        AppDomain.CurrentDomain.UnhandledException += (_, _) => KillQuietly(server);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillQuietly(server);
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

        var options = new KvCacheClientOptions { Host = "127.0.0.1", Port = port, Secret = secret, RequestTimeout = TimeSpan.FromSeconds(30) };
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                KvCacheClient client = await KvCacheClient.ConnectAsync(options);
                return (new ServeProcess(server, client, options, endpoint), null);
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

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        if (!_server.HasExited)
        {
            _server.Kill(); // SIGKILL: its store is scratch.
            await _server.WaitForExitAsync();
        }
        _server.Dispose();
    }

    private static void KillQuietly(Process server)
    {
        try
        {
            if (!server.HasExited)
                server.Kill();
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
