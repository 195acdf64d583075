using System.CommandLine;
using KvTier.Reference;

namespace KvTier.Cli.Commands;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    /// <summary><c>--models DIR</c>: the folder that holds <c>stories260K/</c>; applies to every subcommand.</summary>
    public static Option<string?> Models { get; } = new("--models")
    {
        Description = $"Folder that contains {ModelDirectory.DefaultModelName}/ (default: ${ModelDirectory.EnvironmentVariable}, else ../shared/models beside the repository)",
        Recursive = true,
        HelpName = "DIR",
    };

    /// <summary>Creates a <c>--prompt TEXT</c> option.</summary>
    public static Option<string?> Prompt(string description) => new("--prompt") { Description = description, HelpName = "TEXT" };

    /// <summary>Creates a <c>--steps N</c> option (positions including the prompt's, as llama2.c's <c>-n</c>).</summary>
    public static Option<int> Steps(int defaultValue) => new("--steps")
    {
        Description = $"Positions to run, the prompt's included (llama2.c -n); 1 to the model's context length. Default: {defaultValue}",
        DefaultValueFactory = _ => defaultValue,
        HelpName = "N",
    };

    /// <summary>Creates a <c>--chunk-tokens N</c> option.</summary>
    public static Option<int> ChunkTokens(int defaultValue) => new("--chunk-tokens")
    {
        Description = $"Tokens per chunk. Default: {defaultValue}",
        DefaultValueFactory = _ => defaultValue,
        HelpName = "N",
    };

    /// <summary>Loads the reference model from <c>--models</c> or the default places.</summary>
    /// <exception cref="ModelNotFoundException">The model files are not where the search looked.</exception>
    public static LlamaModel LoadModel(ParseResult parse) =>
        LlamaModel.Load(ModelDirectory.Locate(parse.GetValue(Models)));
}
