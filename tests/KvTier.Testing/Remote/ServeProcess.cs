using System.Diagnostics;
using System.Globalization;

namespace KvTier.Testing.Remote;

/// <summary>
/// A real <c>kvtier serve</c> process (the built program, which a test project copies beside itself by referencing
/// KvTier.Cli) on 127.0.0.1, port 0; its endpoint read from the line it prints at startup.
/// </summary>
public sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    /// <summary>Starts the server and waits (up to a minute) until it says where it listens.</summary>
    /// <param name="dataDirectory">The server's store directory.</param>
    /// <param name="tokenFile">The file holding the shared secret.</param>
    /// <exception cref="InvalidOperationException">The server did not report its endpoint.</exception>
    public ServeProcess(string dataDirectory, string tokenFile)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])[Path.Combine(AppContext.BaseDirectory, "kvtier.dll"), "serve", "--listen", "127.0.0.1:0", "--data", dataDirectory, "--token-file", tokenFile])
            start.ArgumentList.Add(arg);
        _process = Process.Start(start)!;
        _stderr = _process.StandardError.ReadToEndAsync();
        Task<string?> line = _process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromMinutes(1)) || line.Result is not { } listening || !listening.StartsWith("listening on ", StringComparison.Ordinal))
        {
            _process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"kvtier serve did not report its endpoint: {(line.IsCompleted ? line.Result : "(nothing)")} {_stderr.Result}");
        }

        Endpoint = listening["listening on ".Length..].Trim();
        int colon = Endpoint.LastIndexOf(':');
        Host = Endpoint[..colon];
        Port = int.Parse(Endpoint[(colon + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>HOST:PORT, as the server printed it.</summary>
    public string Endpoint { get; }

    /// <summary>The host part of <see cref="Endpoint"/>.</summary>
    public string Host { get; }

    /// <summary>The port part of <see cref="Endpoint"/>.</summary>
    public int Port { get; }

    /// <summary>The server's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Sends SIGTERM (what service managers send) and waits up to a minute for the graceful exit.</summary>
    /// <returns>The exit code and standard error.</returns>
    /// <exception cref="TimeoutException">The server did not stop within a minute.</exception>
    public (int ExitCode, string Error) Terminate()
    {
        using (Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            kill.WaitForExit();
        if (!_process.WaitForExit(TimeSpan.FromMinutes(1)))
            throw new TimeoutException("kvtier serve did not stop within a minute of SIGTERM.");
        return (_process.ExitCode, _stderr.Result);
    }

    /// <summary>Kills the server if it is still running.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
