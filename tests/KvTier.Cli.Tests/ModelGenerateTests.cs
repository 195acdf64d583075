using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier model generate</c> prints exactly what llama2.c prints.</summary>
public sealed class ModelGenerateTests
{
    [RequiresModelTheory]
    [InlineData("ref_n64_once.txt", "Once upon a time", 64)]
    [InlineData("ref_n200_noprompt.txt", null, 200)]
    [InlineData("ref_default256_noprompt.txt", null, 256)]
    public void Output_is_the_reference_output_byte_for_byte(string reference, string? prompt, int steps)
    {
        string[] args = prompt is null
            ? ["model", "generate", "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture)]
            : ["model", "generate", "--prompt", prompt, "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture)];

        CliResult result = CliRunner.Run(args);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(File.ReadAllText(TestModel.ReferencePath(reference)), result.Output);
        Assert.Equal(string.Empty, result.Error);
    }

    [RequiresModelFact]
    public void The_real_program_prints_the_reference_output_on_its_standard_output()
    {
        CliResult result = CliRunner.RunProcess("model", "generate", "--prompt", "Once upon a time", "--steps", "64", "--models", TestModel.Root);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(File.ReadAllText(TestModel.ReferencePath("ref_n64_once.txt")), result.Output);
    }

    [RequiresModelFact]
    public void Steps_out_of_range_is_a_one_line_error()
    {
        foreach (string steps in new[] { "0", "513" })
        {
            CliResult result = CliRunner.Run("model", "generate", "--steps", steps);

            Assert.Equal(1, result.ExitCode);
            Assert.StartsWith("kvtier: ", result.Error, StringComparison.Ordinal);
            Assert.Contains("Steps must be within [1, 512]", result.Error, StringComparison.Ordinal);
            Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
        }
    }
}
