using KvTier.Reference;
using KvTier.Storage;
using Spectre.Console;

namespace KvTier.Cli;

/// <summary>Where a command writes, and how its failures become one-line messages and exit codes.</summary>
/// <param name="Output">Standard output: what scripts read.</param>
/// <param name="Error">Standard error: diagnostics, one line each.</param>
/// <param name="Console">Progress displays and tables for people.</param>
internal sealed record CliContext(TextWriter Output, TextWriter Error, IAnsiConsole Console)
{
    /// <summary>
    /// Runs a command body, turning the failures a user can cause into one line on standard error and an
    /// exit code. Anything else is a bug and propagates with its stack trace.
    /// </summary>
    public int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (ModelNotFoundException e)
        {
            Error.WriteLine($"kvtier: {OneLine(e.Message)}");
            return KvTierCli.ModelMissing;
        }
        catch (Exception e) when (e is KvTierFormatException or KvStoreException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            Error.WriteLine($"kvtier: {OneLine(e.Message)}");
            return KvTierCli.Failure;
        }
    }

    /// <summary>Writes <paramref name="message"/> as one line on standard error and returns <paramref name="exitCode"/>.</summary>
    public int Fail(int exitCode, string message)
    {
        Error.WriteLine($"kvtier: {OneLine(message)}");
        return exitCode;
    }

    // Some exception messages span lines (ArgumentOutOfRangeException adds "Actual value was …").
    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
