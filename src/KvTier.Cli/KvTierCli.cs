using System.CommandLine;
using KvTier.Cli.Commands;
using Spectre.Console;

namespace KvTier.Cli;

/// <summary>
/// The <c>kvtier</c> command tree. Output goes to the writers given, so that tests run it in-process.
/// Exit codes: 0 success, 1 bad input or failed operation (a store locked by another process included), 2 model files
/// not found, 3 <c>verify DIR</c> found problems in a store, 4 <c>store get</c>/<c>store delete</c> found no such key.
/// </summary>
internal static class KvTierCli
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int ModelMissing = 2;

    /// <summary><c>kvtier verify DIR</c> ran and found corrupt records or damaged segment bytes in the store.</summary>
    public const int StoreProblems = 3;

    /// <summary><c>kvtier store get</c> or <c>store delete</c>: the key is not stored.</summary>
    public const int KeyNotStored = 4;

    /// <summary>Parses <paramref name="args"/> and runs the command.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="console">Where progress displays and tables go (the terminal, or a writer in tests).</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, IAnsiConsole console)
    {
        var context = new CliContext(output, error, console);
        RootCommand root = Build(context);
        ParseResult parse = root.Parse(args);
        return parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    /// <summary>Builds the command tree.</summary>
    internal static RootCommand Build(CliContext context)
    {
        var root = new RootCommand("KvTier: a storage engine for LLM key/value caches.");
        root.Options.Add(CommonOptions.Models);
        root.Subcommands.Add(DemoCommand.Create(context));
        root.Subcommands.Add(ModelCommand.Create(context));
        root.Subcommands.Add(KeysCommand.Create(context));
        root.Subcommands.Add(CodecsCommand.Create(context));
        root.Subcommands.Add(InspectCommand.Create(context));
        root.Subcommands.Add(VerifyCommand.Create(context));
        root.Subcommands.Add(EncodeCommand.Create(context));
        root.Subcommands.Add(DecodeCommand.Create(context));
        root.Subcommands.Add(StoreCommand.Create(context));
        root.Subcommands.Add(CompactCommand.Create(context));
        root.Subcommands.Add(RepairCommand.Create(context));
        root.Subcommands.Add(ConformanceCommand.Create(context));
        root.Subcommands.Add(ServeCommand.Create(context));
        root.Subcommands.Add(RemoteCommand.Create(context));
        root.Subcommands.Add(StatsCommand.Create(context));
        root.Subcommands.Add(PrefillCommand.Create(context));
        return root;
    }
}
