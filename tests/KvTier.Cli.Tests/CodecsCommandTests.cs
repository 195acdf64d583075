using KvTier.Format.Codecs;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier codecs</c> lists every codec of the format, one script-friendly line each.</summary>
public sealed class CodecsCommandTests
{
    [Fact]
    public void Lists_every_codec_with_its_id_levels_default_and_nature()
    {
        CliResult result = CliRunner.Run("codecs");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Empty, result.Error);
        string[][] rows = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith('#'))
            .Select(line => line.Split('\t'))
            .ToArray();
        Assert.Equal(["raw", "q8", "ans"], rows.Select(r => r[0]));
        Assert.Equal(["raw", "0", "0", "0", "yes"], rows[0][..5]);
        Assert.Equal(["q8", "1", "0", "0", "no"], rows[1][..5]);
        Assert.Equal(["ans", "2", "1-4", "2", "no"], rows[2][..5]);
        Assert.All(rows, r => Assert.Equal(6, r.Length));
        Assert.Equal(ChunkCodecs.All.Select(c => c.Description), rows.Select(r => r[5]));
        Assert.Contains($"# default codec: {ChunkCodecs.Default.Name}", result.Output, StringComparison.Ordinal);
    }
}
