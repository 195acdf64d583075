using System.Diagnostics;
using System.Globalization;

namespace KvTier.LlamaSharp.Tests;

/// <summary>
/// A real <c>kvtier serve</c> process (the built program, copied beside the tests) on 127.0.0.1, port 0; its port read
/// from the line it prints at startup.
/// </summary>
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

        string endpoint = listening["listening on ".Length..].Trim();
        int colon = endpoint.LastIndexOf(':');
        Host = endpoint[..colon];
        Port = int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture);
    }

    public string Host { get; }

    public int Port { get; }

    public int ProcessId => _process.Id;

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
