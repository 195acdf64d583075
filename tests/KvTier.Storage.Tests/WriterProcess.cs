using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace KvTier.Storage.Tests;

/// <summary>
/// A running tests/KvTier.Storage.CrashWriter (its dll is copied beside the tests), with its output captured as raw
/// bytes so that a line cut short by a kill can be told apart from a whole one.
/// </summary>
/// <remarks>The capture runs on a thread-pool task; its text is guarded by a lock.</remarks>
internal sealed class WriterProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _text = new();
    private readonly ManualResetEventSlim _opened = new();
    private readonly Task _reader;
    private readonly Task<string> _errors;

    private WriterProcess(Process process)
    {
        _process = process;
        _errors = process.StandardError.ReadToEndAsync();
        Stream stdout = process.StandardOutput.BaseStream;
        _reader = Task.Run(async () =>
        {
            byte[] buffer = new byte[65536];
            int read;
            while ((read = await stdout.ReadAsync(buffer)) > 0)
            {
                lock (_text)
                {
                    _text.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    if (!_opened.IsSet && _text.Length >= 5 && _text.ToString(0, 5) == "open\n")
                        _opened.Set();
                }
            }
            _opened.Set(); // End of output: a waiter learns from HasExited that the writer died.
        });
    }

    public static WriterProcess Start(string directory, DurabilityMode durability, long firstNewId, int seed)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "KvTier.Storage.CrashWriter.dll"));
        start.ArgumentList.Add(directory);
        start.ArgumentList.Add(durability.ToString());
        start.ArgumentList.Add(firstNewId.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add(seed.ToString(CultureInfo.InvariantCulture));
        return new WriterProcess(Process.Start(start)!);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the writer's "open" line; false when it died first or the bound passed (a bound, not a timing assertion).</summary>
    public bool WaitUntilOpen(TimeSpan bound) => _opened.Wait(bound) && !_process.HasExited;

    public bool WaitForExit(TimeSpan bound) => _process.WaitForExit(bound);

    /// <summary>SIGKILL: no finalizers, no Dispose, no flush. Returns once the process is gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill();
        _process.WaitForExit();
    }

    public string ExitDescription => _process.HasExited ? $"exit code {_process.ExitCode}: {_errors.Result}" : "still running";

    /// <summary>After the process has exited: the lines that ended in '\n' (a line the kill cut short never happened).</summary>
    public IReadOnlyList<string> CompleteLines()
    {
        _reader.Wait();
        string text;
        lock (_text)
            text = _text.ToString();
        return text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        _opened.Dispose();
    }
}
