using KvTier.Cli.Conformance;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier conformance run</c>: this build's decoder passes every committed vector, and a decoder that misbehaves
/// in any of the ways the runner checks is reported vector by vector with exit code 1.
/// </summary>
public sealed class ConformanceRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvtier-conformance-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ConformanceManifest Committed => ConformanceManifest.Read(Path.Combine(CommittedVectors.Directory, "manifest.json"));

    private static (string Result, string Vector, string Expected, string Got)[] Rows(string output) =>
        output.ReplaceLineEndings("\n").Split('\n')
            .Where(line => line.StartsWith("PASS\t", StringComparison.Ordinal) || line.StartsWith("FAIL\t", StringComparison.Ordinal))
            .Select(line => line.Split('\t'))
            .Select(f => (f[0], f[1], f[2], f[3]))
            .ToArray();

    [Fact]
    public void The_in_process_decoder_passes_every_committed_vector_with_the_exact_error_kinds()
    {
        CliResult result = CliRunner.Run("conformance", "run", "--vectors", CommittedVectors.Directory);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        var rows = Rows(result.Output);
        ConformanceManifest manifest = Committed;
        Assert.Equal(manifest.Vectors.Count, rows.Length);
        Assert.All(rows, r => Assert.Equal("PASS", r.Result));
        Assert.Equal(manifest.Vectors.Select(v => v.File), rows.Select(r => r.Vector));
        Assert.All(manifest.Vectors.Where(v => !v.Expect.ExpectsDecode).Zip(rows.Where(r => r.Expected.StartsWith("reject", StringComparison.Ordinal))),
            pair => Assert.Equal($"rejected as {pair.First.Expect.ErrorKind}", pair.Second.Got));
        Assert.Contains($"conformance: {manifest.Vectors.Count} vectors, {manifest.Vectors.Count} passed, 0 failed", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_vectors_the_committed_ones_are_found_from_the_program_s_folder()
    {
        CliResult result = CliRunner.Run("conformance", "run");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"vectors: {Path.GetFullPath(CommittedVectors.Directory)}", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_real_program_as_an_external_decoder_passes()
    {
        string subset = Subset(v => v.File.Contains("single-token", StringComparison.Ordinal) || v.File.Contains("special-values-f16", StringComparison.Ordinal)
            || v.File is "invalid/bad-magic.kvt" or "invalid/section-checksum.kvt" or "invalid/truncated-payload.kvt");
        string decoder = $"dotnet '{Path.Combine(AppContext.BaseDirectory, "kvtier.dll")}' conformance decode";

        CliResult result = CliRunner.Run("conformance", "run", "--vectors", subset, "--decoder", decoder);

        Assert.True(result.ExitCode == 0, result.Output);
        var rows = Rows(result.Output);
        Assert.True(rows.Length >= 6);
        Assert.All(rows, r => Assert.Equal("PASS", r.Result));
        Assert.Contains(rows, r => r.Got.StartsWith("exit 1: kvtier: ", StringComparison.Ordinal) && r.Got.Contains("BadMagic", StringComparison.Ordinal));
    }

    [Fact]
    public void A_decoder_that_always_succeeds_fails_every_vector()
    {
        CliResult result = CliRunner.Run("conformance", "run", "--vectors", CommittedVectors.Directory, "--decoder", "/bin/sh -c 'exit 0'");

        Assert.Equal(1, result.ExitCode);
        var rows = Rows(result.Output);
        Assert.Equal(Committed.Vectors.Count, rows.Length);
        Assert.All(rows, r => Assert.Equal("FAIL", r.Result));
        Assert.All(rows.Where(r => r.Expected == "decode"), r => Assert.Equal("exit 0 but no output file", r.Got));
        Assert.All(rows.Where(r => r.Expected != "decode"), r => Assert.Equal("decoded (exit 0)", r.Got));
        Assert.Contains($"0 passed, {rows.Length} failed", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("conformance", "run")]
    [InlineData("conformance", null)] // `kvtier conformance --decoder COMMAND`, as the issue spells it
    public void A_decoder_that_always_fails_passes_only_the_invalid_vectors(string command, string? subcommand)
    {
        string[] args = [command, .. subcommand is null ? Array.Empty<string>() : [subcommand], "--vectors", CommittedVectors.Directory, "--decoder", "/bin/sh -c 'echo nope >&2; exit 3'"];
        CliResult result = CliRunner.Run(args);

        Assert.Equal(1, result.ExitCode);
        var rows = Rows(result.Output);
        Assert.All(rows, r => Assert.Equal(r.Expected == "decode" ? "FAIL" : "PASS", r.Result));
        Assert.All(rows.Where(r => r.Expected == "decode"), r => Assert.Equal("rejected: exit 3: nope", r.Got));
        Assert.Contains(rows, r => r.Result == "FAIL");
        Assert.Contains(rows, r => r.Result == "PASS");
    }

    [Fact]
    public void Wrong_decoded_values_and_output_left_behind_by_a_rejection_are_failures()
    {
        // A "decoder" that writes the same valid KV-cache file whatever it is given.
        string fixedOutput = Path.Combine(_dir, "fixed.safetensors");
        SyntheticKvFiles.Write(fixedOutput, SyntheticKvFiles.Layout(layers: 2), tokens: 16);
        string subset = Subset(v => v.File is "valid/raw-level0-f32.kvt" or "invalid/bad-magic.kvt");

        CliResult result = CliRunner.Run("conformance", "run", "--vectors", subset, "--decoder", $"/bin/sh -c 'cp \"{fixedOutput}\" \"$1\"'");
        CliResult leaves = CliRunner.Run("conformance", "run", "--vectors", subset, "--decoder", "/bin/sh -c 'echo partial > \"$1\"; exit 1'");

        Assert.Equal(1, result.ExitCode);
        var rows = Rows(result.Output);
        Assert.Equal("FAIL", rows[0].Result);
        Assert.StartsWith("decoded, but sha256 ", rows[0].Got, StringComparison.Ordinal);
        Assert.Equal(("FAIL", "decoded (exit 0)"), (rows[1].Result, rows[1].Got));
        Assert.Equal(1, leaves.ExitCode);
        Assert.Equal("rejected (exit 1) but left an output file", Rows(leaves.Output).Single(r => r.Vector == "invalid/bad-magic.kvt").Got);
    }

    [Fact]
    public void A_vector_file_that_does_not_match_the_manifest_fails_before_any_decoder_runs()
    {
        string subset = Subset(v => v.File is "valid/raw-level0-f32.kvt" or "valid/q8-level0-f32.kvt");
        string tampered = Path.Combine(subset, "valid", "raw-level0-f32.kvt");
        byte[] bytes = File.ReadAllBytes(tampered);
        bytes[^1] ^= 1;
        File.WriteAllBytes(tampered, bytes);

        CliResult result = CliRunner.Run("conformance", "run", "--vectors", subset);

        Assert.Equal(1, result.ExitCode);
        var rows = Rows(result.Output);
        Assert.Equal(("FAIL", "the vector file's sha256 differs from the manifest (corrupt or stale vectors)"), (rows[0].Result, rows[0].Got));
        Assert.Equal("PASS", rows[1].Result);
    }

    [Fact]
    public void A_decoder_that_cannot_start_or_a_missing_manifest_is_a_one_line_error()
    {
        CliResult noDecoder = CliRunner.Run("conformance", "run", "--vectors", CommittedVectors.Directory, "--decoder", "/no/such/decoder");
        CliResult noManifest = CliRunner.Run("conformance", "run", "--vectors", _dir);

        Assert.Equal(1, noDecoder.ExitCode);
        Assert.StartsWith("kvtier: --decoder: cannot start /no/such/decoder", noDecoder.Error, StringComparison.Ordinal);
        Assert.Equal(1, noManifest.ExitCode);
        Assert.StartsWith("kvtier: ", noManifest.Error, StringComparison.Ordinal);
    }

    // A copy of the committed vectors that match, with a manifest listing only them.
    private string Subset(Func<ConformanceVector, bool> keep)
    {
        string dir = Path.Combine(_dir, "subset-" + Guid.NewGuid().ToString("N")[..8]);
        ConformanceVector[] vectors = [.. Committed.Vectors.Where(keep)];
        Assert.NotEmpty(vectors);
        foreach (ConformanceVector v in vectors)
        {
            string target = Path.Combine(dir, v.File);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(CommittedVectors.Directory, v.File), target);
        }

        File.WriteAllBytes(Path.Combine(dir, "manifest.json"), new ConformanceManifest(vectors).ToJson());
        return dir;
    }
}
