using KvTier.Testing.Cli;
using Spectre.Console;

namespace KvTier.Cli.Tests;

/// <summary>What one run of the <c>kvtier</c> command produced.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error, string Console);

/// <summary>Runs the <c>kvtier</c> command in-process (fast) or as a child process (the real program, for cross-process checks).</summary>
internal static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var consoleText = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(consoleText),
        });
        console.Profile.Width = 240; // wide enough that no message the tests look for is wrapped
        int code = KvTierCli.Run(args, output, error, console);
        return new CliResult(code, output.ToString(), error.ToString(), consoleText.ToString());
    }

    /// <summary>Runs the built <c>kvtier</c> program (copied beside the tests) in a new process.</summary>
    public static CliResult RunProcess(params string[] args)
    {
        KvTierProcess.Result result = KvTierProcess.Run(args);
        return new CliResult(result.ExitCode, result.Output, result.Error, string.Empty);
    }
}
