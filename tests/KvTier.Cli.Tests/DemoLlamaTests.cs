using System.Globalization;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier demo</c>'s LLamaSharp walk-through: a conversation in one llama.cpp context whose turns after the first load
/// the earlier turns from KvTier, evaluate fewer tokens than their prompt, and reply exactly as without a cache.
/// </summary>
public sealed class DemoLlamaTests : IDisposable
{
    private const string TableTitle = "A conversation in one LLamaSharp context, KvTier as its prefix cache";

    private readonly string _root = Directory.CreateTempSubdirectory("kvtier-demo-llama-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [RequiresModelFact]
    public void Every_turn_after_the_first_reuses_the_conversation_from_KvTier_and_replies_as_without_a_cache()
    {
        string store = Path.Combine(_root, "store");

        CliResult result = CliRunner.Run("demo", "--steps", "32", "--store", store);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("LLamaSharp walk-through: stories260K.gguf in llama.cpp", result.Console, StringComparison.Ordinal);
        // The walk-through keeps its chunks in a store of its own beside the demo's, which DemoStoreTests counts.
        Assert.True(Directory.Exists(Path.Combine(_root, "store-llama")));

        Turn[] turns = Turns(result.Console);
        Assert.Equal(DemoTurns, turns.Length);
        Assert.Equal(0, turns[0].Reused); // an empty store
        foreach (Turn turn in turns)
        {
            Assert.Equal(turn.Prompt, turn.Reused + turn.Evaluated);
            Assert.Equal("identical", turn.Reply);
            Assert.True(turn.Stored > 0, $"turn {turn.Number} stored no chunk");
        }

        for (int t = 1; t < turns.Length; t++)
        {
            Assert.True(turns[t].Reused > 0, $"turn {turns[t].Number} reused nothing");
            Assert.True(turns[t].Evaluated < turns[t].Prompt, $"turn {turns[t].Number} evaluated {turns[t].Evaluated} of {turns[t].Prompt}");
            Assert.True(turns[t].Prompt > turns[t - 1].Prompt);
        }
    }

    private const int DemoTurns = 4;

    private sealed record Turn(int Number, int Prompt, int Reused, int Evaluated, string Reply, int Stored);

    // The rows of the walk-through's table: turn, prompt tokens, reused ("N (tier)" or "0"), evaluated, two timings,
    // reply vs no cache, chunks stored.
    private static Turn[] Turns(string console)
    {
        int title = console.IndexOf(TableTitle, StringComparison.Ordinal);
        Assert.True(title >= 0, $"No walk-through table:\n{console}");
        var turns = new List<Turn>();
        foreach (string line in console[title..].Split('\n'))
        {
            string[] cells = [.. line.Split('│').Select(c => c.Trim())];
            if (cells.Length < 10 || !int.TryParse(cells[1], NumberStyles.None, CultureInfo.InvariantCulture, out int number))
                continue;
            turns.Add(new Turn(
                number,
                int.Parse(cells[2], CultureInfo.InvariantCulture),
                int.Parse(cells[3].Split(' ')[0], CultureInfo.InvariantCulture),
                int.Parse(cells[4], CultureInfo.InvariantCulture),
                cells[7],
                int.Parse(cells[8], CultureInfo.InvariantCulture)));
        }

        return [.. turns];
    }
}
