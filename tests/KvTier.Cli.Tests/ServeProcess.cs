using System.Diagnostics;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>A real <c>kvtier serve</c> process on 127.0.0.1, port 0; its port read from the line it prints at startup.</summary>
internal sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

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
    }

    /// <summary>HOST:PORT, as the server printed it.</summary>
    public string Endpoint { get; }

    /// <summary>Sends SIGTERM (what service managers send) and waits for the graceful exit; returns the exit code and standard error.</summary>
    public (int ExitCode, string Error) Terminate()
    {
        using (Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            kill.WaitForExit();
        Assert.True(_process.WaitForExit(TimeSpan.FromMinutes(1)), "kvtier serve did not stop within a minute of SIGTERM");
        return (_process.ExitCode, _stderr.Result);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
