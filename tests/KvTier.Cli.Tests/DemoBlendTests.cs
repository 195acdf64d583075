using System.Globalization;
using System.Text.RegularExpressions;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier demo</c>'s RAG walk-through: documents stored once, blended in a new order; the full prefill is the
/// reference, prefix caching is exact, and blending computes far fewer positions than the prompt has.
/// </summary>
public sealed partial class DemoBlendTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kvtier-demo-blend-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [RequiresModelFact]
    public void The_walk_through_blends_stored_documents_and_reports_work_and_quality_for_each_way()
    {
        CliResult result = CliRunner.Run("demo", "--steps", "32", "--store", Path.Combine(_root, "store"));

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("RAG walk-through: 4 documents the model wrote", result.Console, StringComparison.Ordinal);
        Assert.Contains("New prompt: system prompt, then doc 3, doc 1, doc 4, doc 2", result.Console, StringComparison.Ordinal);

        Row full = Find(result.Console, "full prefill");
        Row prefix = Find(result.Console, "prefix cache (system prompt + 1st doc)");
        Row none = Find(result.Console, "blend, none recomputed");
        Row blend = Find(result.Console, "blend, 15% recomputed");
        Row unrotated = Find(result.Console, "blend 15%, keys not re-rotated");

        Assert.Equal((full.Total, 0.0, 0.0, "identical"), (full.Computed, full.Saved, full.Kl, full.Greedy));
        Assert.Equal((0.0, "identical"), (prefix.Kl, prefix.Greedy)); // exact reuse
        Assert.True(prefix.Computed < full.Total && prefix.Saved > 0);
        Assert.True(none.Computed < blend.Computed && blend.Computed < prefix.Computed, $"computed: none {none.Computed}, 15% {blend.Computed}, prefix {prefix.Computed}");
        Assert.True(blend.Saved > prefix.Saved, $"blend saves {blend.Saved}%, prefix caching {prefix.Saved}%");
        // Recomputation and re-rotation both matter: each removes most of the error of going without it.
        Assert.True(blend.Kl < none.Kl && blend.Kl < unrotated.Kl, $"KL: 15% {blend.Kl}, none {none.Kl}, not re-rotated {unrotated.Kl}");
    }

    private sealed record Row(int Computed, int Total, double Saved, double Kl, string Greedy);

    private static Row Find(string console, string name)
    {
        foreach (string line in console.Split('\n'))
        {
            string[] cells = [.. line.Split('│').Select(c => c.Trim())];
            if (cells.Length < 6 || cells[1] != name)
                continue;
            Match computed = ComputedCell().Match(cells[2]);
            Assert.True(computed.Success, $"'{cells[2]}' is not 'N of M'");
            return new Row(
                int.Parse(computed.Groups[1].Value, CultureInfo.InvariantCulture),
                int.Parse(computed.Groups[2].Value, CultureInfo.InvariantCulture),
                double.Parse(cells[3].TrimEnd('%', ' '), CultureInfo.InvariantCulture),
                double.Parse(cells[4], CultureInfo.InvariantCulture),
                cells[5]);
        }

        Assert.Fail($"No row '{name}' in the walk-through's table:\n{console}");
        return null!;
    }

    [GeneratedRegex(@"^(\d+) of (\d+)$")]
    private static partial Regex ComputedCell();
}
