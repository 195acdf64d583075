using KvTier.Cli.Conformance;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>--decoder "COMMAND"</c> is split into words without a shell.</summary>
public sealed class DecoderCommandLineTests
{
    [Theory]
    [InlineData("decoder", new[] { "decoder" })]
    [InlineData("  dotnet  kvtier.dll conformance decode ", new[] { "dotnet", "kvtier.dll", "conformance", "decode" })]
    [InlineData("/bin/sh -c 'exit 1'", new[] { "/bin/sh", "-c", "exit 1" })]
    [InlineData("\"/opt/my decoder/run\" --fast", new[] { "/opt/my decoder/run", "--fast" })]
    [InlineData("a'b c'd \"\"", new[] { "ab cd", "" })]
    [InlineData("x \"it's\"", new[] { "x", "it's" })]
    public void Words_are_split_on_whitespace_and_quotes_group(string command, string[] expected)
    {
        Assert.Equal(expected, DecoderCommandLine.Split(command));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("decoder 'unclosed")]
    public void Empty_or_unclosed_commands_are_rejected(string command)
    {
        Assert.Throws<ArgumentException>(() => DecoderCommandLine.Split(command));
    }
}
