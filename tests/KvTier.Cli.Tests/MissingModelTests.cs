using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>Without model files every model command says, in one line, where it looked and how to point elsewhere.</summary>
public sealed class MissingModelTests : IDisposable
{
    private readonly string _empty = Directory.CreateTempSubdirectory("kvtier-nomodel-").FullName;

    public void Dispose() => Directory.Delete(_empty, recursive: true);

    [Theory]
    [InlineData("demo")]
    [InlineData("model generate --steps 8")]
    [InlineData("model kv --steps 8 --out x.safetensors")]
    [InlineData("keys --prompt hello")]
    public void Missing_model_files_give_exit_code_2_and_one_line(string command)
    {
        CliResult result = CliRunner.Run([.. command.Split(' '), "--models", _empty]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(string.Empty, result.Output);
        string line = Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("kvtier: stories260K model files", line, StringComparison.Ordinal);
        Assert.Contains(_empty, line, StringComparison.Ordinal);
        Assert.Contains("KVTIER_MODELS", line, StringComparison.Ordinal);
        Assert.Contains("--models DIR", line, StringComparison.Ordinal);
    }
}
