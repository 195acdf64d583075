using KvTier.Keys;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier keys</c> prints the keys the library derives, identically from every process.</summary>
public sealed class KeysCommandTests
{
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    [RequiresModelFact]
    public void Printed_keys_are_the_library_s_keys()
    {
        CliResult result = CliRunner.Run("keys", "--prompt", Prompt, "--chunk-tokens", "7", "--namespace", "tenant-a");

        Assert.Equal(0, result.ExitCode);
        int[] tokens = TestModel.Model.Tokenizer.Encode(Prompt);
        var keys = new ChunkKeys(TestModel.Model.ModelId, TestModel.Model.Layout, "tenant-a", 7);
        string[][] rows = DataRows(result.Output);
        Assert.Equal(keys.Split(tokens.Length).Length, rows.Length);
        Assert.Equal(keys.PrefixKeys(tokens).Select(k => k.ToString()), rows.Select(r => r[4]));
        Assert.Equal(keys.SegmentKeys(tokens).Select(k => k.ToString()), rows.Select(r => r[5]));
        Assert.Equal(tokens.Length % 7 == 0 ? "full" : "partial", rows[^1][3]);
        Assert.All(rows[..^1], r => Assert.Equal("full", r[3]));
        Assert.Contains(keys.Fingerprint.ToString(), result.Output, StringComparison.Ordinal);
    }

    [RequiresModelFact]
    public void Separate_processes_print_identical_keys()
    {
        string[] args = ["keys", "--prompt", Prompt, "--chunk-tokens", "4", "--models", TestModel.Root];

        CliResult first = CliRunner.RunProcess(args);
        CliResult second = CliRunner.RunProcess(args);

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(first.Output, second.Output);
        Assert.Equal(CliRunner.Run(args).Output, first.Output);
        Assert.True(DataRows(first.Output).Length > 5);
    }

    [RequiresModelFact]
    public void A_bad_namespace_is_a_one_line_error()
    {
        CliResult result = CliRunner.Run("keys", "--prompt", "hi", "--namespace", new string('n', 256));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("at most 255", result.Error, StringComparison.Ordinal);
    }

    private static string[][] DataRows(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).Select(l => l.Split('\t')).ToArray();
}
