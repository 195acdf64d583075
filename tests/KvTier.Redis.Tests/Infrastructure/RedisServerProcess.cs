using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>
/// A private redis-server child process on 127.0.0.1 (no persistence), which a test can kill and start again on the
/// same port. Not thread-safe: one test drives it.
/// </summary>
public sealed class RedisServerProcess : IDisposable
{
    private Process? _process;

    private readonly string[] _extraArguments;

    private RedisServerProcess(int port, string[] extraArguments)
    {
        Port = port;
        _extraArguments = extraArguments;
    }

    /// <summary>The TCP port it listens on.</summary>
    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Starts redis-server on a free port and waits until it answers; <paramref name="extraArguments"/> override the defaults.</summary>
    public static RedisServerProcess Start(params string[] extraArguments)
    {
        var server = new RedisServerProcess(FreePort(), extraArguments);
        server.Restart();
        return server;
    }

    /// <summary>Starts the process again on the same port (after <see cref="Kill"/>) and waits until it answers.</summary>
    public void Restart()
    {
        string binary = RedisEnvironment.ServerBinary
            ?? throw new InvalidOperationException($"redis-server is not installed; install it or set {RedisEnvironment.EndpointVariable}");
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (string arg in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
                     "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru" })
            start.ArgumentList.Add(arg);
        foreach (string arg in _extraArguments)
            start.ArgumentList.Add(arg);
        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"redis-server exited with {_process.ExitCode} on port {Port}");
            if (Answers())
                return;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"redis-server on port {Port} did not answer PING within 20 s");
    }

    /// <summary>Kills the process (SIGKILL) and waits for it to be gone.</summary>
    public void Kill()
    {
        if (_process is null)
            return;
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
        _process = null;
    }

    /// <summary>Freezes the process (SIGSTOP): connections stay open, nothing answers — a hung server.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>Lets a paused process run again (SIGCONT).</summary>
    public void Resume() => Signal("-CONT");

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_process is { HasExited: false })
            Resume(); // A stopped process would not die of SIGKILL until continued on some systems; be sure.
        Kill();
    }

    private void Signal(string signal)
    {
        if (_process is null)
            throw new InvalidOperationException("redis-server is not running");
        using Process kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { signal, _process.Id.ToString() }, UseShellExecute = false })
            ?? throw new InvalidOperationException("kill did not start");
        kill.WaitForExit(10_000);
        if (kill.ExitCode != 0)
            throw new InvalidOperationException($"kill {signal} {_process.Id} exited with {kill.ExitCode}");
    }

    private bool Answers()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            using NetworkStream stream = client.GetStream();
            stream.ReadTimeout = 1000;
            stream.Write("PING\r\n"u8);
            Span<byte> reply = stackalloc byte[7];
            int read = stream.Read(reply);
            return read >= 5 && reply[..5].SequenceEqual("+PONG"u8);
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
