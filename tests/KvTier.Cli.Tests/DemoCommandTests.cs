using System.Globalization;
using System.Text.RegularExpressions;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier demo</c>, the main job, runs end to end and its reuse check holds.</summary>
public sealed class DemoCommandTests
{
    [RequiresModelFact]
    public void Demo_reports_every_request_and_a_reuse_check_that_matches_full_prefill()
    {
        // A fresh store, not the user's ~/.cache/kvtier/demo-store.
        string store = Path.Combine(Path.GetTempPath(), "kvtier-demo-tests", Guid.NewGuid().ToString("n"));
        CliResult result;
        try
        {
            result = CliRunner.Run("demo", "--steps", "200", "--chunk-tokens", "64", "--store", store);
        }
        finally
        {
            if (Directory.Exists(store))
                Directory.Delete(store, recursive: true);
        }

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Empty, result.Error);
        string text = result.Console;
        for (int i = 1; i <= 5; i++)
        {
            Assert.Contains($"{i}: ", text, StringComparison.Ordinal);
            Assert.Contains($"request {i} of 5:", text, StringComparison.Ordinal); // progress, without a terminal
        }

        Assert.Contains("What a cache would hold", text, StringComparison.Ordinal);
        // Request 5 repeats request 1: all 64-token chunks of its 200 positions are found (3 full + 1 partial).
        Assert.Contains("4 of 4", text, StringComparison.Ordinal);
        Assert.Contains("loaded 192 cached positions (3 chunks) and computed 8 of 200 positions", text, StringComparison.Ordinal);
        Assert.Contains("continuing from KV decoded from the reopened store by the prefetcher", text, StringComparison.Ordinal);
        Assert.Contains("identical within 1e-5", text, StringComparison.Ordinal);

        // The prefetch table: every request's stored prefix arrives layer by layer, each layer timed, in order.
        int layers = int.Parse(Regex.Match(text, @"\((\d+) layers, ").Groups[1].Value, CultureInfo.InvariantCulture);
        string[][] rows = PrefetchRows(text);
        Assert.Equal(5, rows.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            string[] cells = rows[i];
            Assert.Equal($"{i + 1}", cells[0]);
            Assert.Matches(@"^\d+ of \d+$", cells[1]);
            Assert.False(string.IsNullOrEmpty(cells[2])); // the decoder's name
            double[] ready = cells[4].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(layers, ready.Length);
            Assert.Equal(ready.Order(), ready); // layers complete in order
            Assert.Equal(ready[0].ToString("F2", CultureInfo.InvariantCulture) + " ms", cells[3]);
            Assert.Equal(ready[^1].ToString("F2", CultureInfo.InvariantCulture) + " ms", cells[5]);
            Assert.EndsWith("%", cells[6], StringComparison.Ordinal);
        }

        Assert.Equal("4 of 4", rows[4][1]); // request 5 repeats request 1: its whole stored prefix arrives
        Assert.Contains("Overlap: \"layer 0 at\" is layer 0's readiness as a share of the whole load", text, StringComparison.Ordinal);
        Assert.Contains("0 corrupt chunks; 0 bytes of staging still rented.", text, StringComparison.Ordinal);

        // The codec table: every codec and level, raw lossless (zero KL and an identical continuation).
        Assert.Contains("Request 1's first chunk (64 tokens) under each codec", text, StringComparison.Ordinal);
        string rawRow = text.Split('\n').Single(l => l.Contains("│ raw ", StringComparison.Ordinal));
        Assert.Contains("0.00E+000", rawRow, StringComparison.Ordinal);
        Assert.Contains("identical", rawRow, StringComparison.Ordinal);
        Assert.Contains("q8", text, StringComparison.Ordinal);
        for (int level = 1; level <= 4; level++)
            Assert.Contains($"ans {level}", text, StringComparison.Ordinal);
        Assert.Contains("ans 2 (default)", text, StringComparison.Ordinal);
    }

    [RequiresModelFact]
    public void Shared_demo_passes_instance_As_cache_to_instance_B_through_a_server()
    {
        CliResult result = CliRunner.Run("demo", "--shared", "--steps", "200", "--chunk-tokens", "64");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Empty, result.Error);
        string text = result.Console;
        Assert.Contains("Started a cache server", text, StringComparison.Ordinal);
        // Requests 1-4 produce 4 + 4 + 4 + 4 chunks at 200 positions (the last one partial); request 5 repeats request 1.
        Match stored = Regex.Match(text, @"stored (\d+) chunks in its own store; (\d+) written behind to the server \([\d,]+ bytes\), 0 dropped");
        Assert.True(stored.Success, text);
        Assert.Equal(stored.Groups[1].Value, stored.Groups[2].Value); // every chunk A stored reached the server
        Match fetched = Regex.Match(text, @"Instance B: (\d+) chunks fetched from the server \(each checked, then kept in its own store\), 0 remote misses");
        Assert.True(fetched.Success, text);
        Assert.Equal(stored.Groups[1].Value, fetched.Groups[1].Value); // B fetched each chunk once; request 5 found them local
        Assert.Contains("0 (already local)", text, StringComparison.Ordinal);
        Assert.Contains("loaded 192 cached positions (3 chunks) and computed 8 of 200 positions", text, StringComparison.Ordinal);
        Assert.Contains("instance A computed it, the server passed it on", text, StringComparison.Ordinal);
        Assert.Contains("identical within 1e-5", text, StringComparison.Ordinal);
    }

    [RequiresModelFact]
    public void Shared_demo_with_a_server_but_no_token_file_is_refused()
    {
        CliResult result = CliRunner.Run("demo", "--shared", "--server", "127.0.0.1:9", "--steps", "10");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--token-file", result.Error, StringComparison.Ordinal);
    }

    /// <summary>The prefetch table's rows, each split into its trimmed cells.</summary>
    private static string[][] PrefetchRows(string text)
    {
        string[] lines = text.Split('\n');
        int title = Array.FindIndex(lines, l => l.Contains("Prefetch: each request's stored prefix", StringComparison.Ordinal));
        Assert.True(title >= 0, "no prefetch table");
        return lines
            .Skip(title + 1)
            .TakeWhile(l => !l.StartsWith("Overlap:", StringComparison.Ordinal))
            .Where(l => l.StartsWith("│ ", StringComparison.Ordinal) && !l.Contains("chunks loaded", StringComparison.Ordinal))
            .Select(l => l.Trim().Trim('│').Split('│').Select(c => c.Trim()).ToArray())
            .ToArray();
    }

    [RequiresModelFact]
    public void Steps_beyond_the_context_are_rejected()
    {
        CliResult result = CliRunner.Run("demo", "--steps", "9999");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--steps must be within [1, 512]", result.Error, StringComparison.Ordinal);
    }
}
