using Spectre.Console;

namespace KvTier.Cli;

/// <summary>Entry point of the <c>kvtier</c> command.</summary>
internal static class Program
{
    private static int Main(string[] args) => KvTierCli.Run(args, Console.Out, Console.Error, AnsiConsole.Console);
}
