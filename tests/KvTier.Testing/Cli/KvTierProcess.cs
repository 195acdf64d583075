using System.Diagnostics;

namespace KvTier.Testing.Cli;

/// <summary>
/// Runs the built <c>kvtier</c> program (which a test project copies beside itself by referencing KvTier.Cli) in a new
/// process to its end.
/// </summary>
public static class KvTierProcess
{
    /// <summary>How one run ended.</summary>
    /// <param name="ExitCode">The exit code.</param>
    /// <param name="Output">Standard output (UTF-8).</param>
    /// <param name="Error">Standard error.</param>
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Runs <c>kvtier ARGS</c> and waits for it (at most two minutes).</summary>
    /// <exception cref="TimeoutException">It ran longer; it was killed.</exception>
    public static Result Run(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kvtier.dll"));
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kvtier {string.Join(' ', args)} did not finish in 2 minutes.");
        }

        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
