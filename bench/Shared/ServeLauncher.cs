using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using KvTier.Remote;

namespace KvTier.Bench.Shared;

/// <summary>
/// Starts a real <c>kvtier serve</c> process (the CLI's Release build) on a free loopback port over a fresh store in
/// <c>scratch/serve</c>, with a random secret in <c>scratch/token</c>, and connects a <see cref="KvCacheClient"/> to it.
/// The process is killed if the harness exits or dies of an exception.
/// </summary>
internal static class ServeLauncher
{
    /// <summary>A started server.</summary>
    /// <param name="Server">The process.</param>
    /// <param name="Client">A connected client.</param>
    /// <param name="Options">The client's options (for more clients or a remote tier).</param>
    /// <param name="Endpoint">HOST:PORT.</param>
    /// <param name="Directory">The server's scratch directory.</param>
    internal sealed record Started(Process Server, KvCacheClient Client, KvCacheClientOptions Options, string Endpoint, string Directory);

    /// <summary>Starts the server; null with a reason when the CLI is not built or the server does not come up.</summary>
    public static async Task<(Started? Server, string? Why)> StartAsync(string cliDll, string scratch, TimeSpan requestTimeout)
    {
        if (!File.Exists(cliDll))
            return (null, $"{cliDll} not found (dotnet build src/KvTier.Cli -c Release)");
        string directory = Path.Combine(scratch, "serve");
        System.IO.Directory.CreateDirectory(directory);
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

        var options = new KvCacheClientOptions { Host = "127.0.0.1", Port = port, Secret = secret, RequestTimeout = requestTimeout };
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                KvCacheClient client = await KvCacheClient.ConnectAsync(options);
                return (new Started(server, client, options, endpoint, directory), null);
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

    /// <summary>A loopback port free now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
            // Already gone.
        }
    }
}
