using KvTier.Cli.Conformance;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier verify</c> checks every byte of every record it is given and says which fail and why.</summary>
public sealed class VerifyCommandTests : IDisposable
{
    private readonly RecordFileFixture _files = new(tokens: 9);

    public void Dispose() => _files.Dispose();

    [Fact]
    public void A_good_record_is_OK_with_its_codec_tokens_and_size()
    {
        string path = _files.Encode("good.kvt", "--codec", "q8");

        CliResult result = CliRunner.Run("verify", path);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            $"OK {path} (q8 level 0, 9 tokens, {new FileInfo(path).Length} bytes)\nverified 1 record: 1 OK, 0 failed\n",
            result.Output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void A_directory_is_walked_recursively_in_path_order_and_any_failure_fails_the_run()
    {
        string dir = _files.PathOf("store");
        Directory.CreateDirectory(Path.Combine(dir, "b", "nested"));
        string raw = _files.Encode("raw.kvt", "--codec", "raw");
        string q8 = _files.Encode("q8.kvt", "--codec", "q8");
        File.Copy(raw, Path.Combine(dir, "c.kvt"));
        File.Copy(q8, Path.Combine(dir, "b", "nested", "a.kvt"));
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not a record");
        byte[] corrupt = File.ReadAllBytes(raw);
        corrupt[RecordEditor.SectionOffset(corrupt, 3) + 5] ^= 0x01; // layer 1 V payload
        File.WriteAllBytes(Path.Combine(dir, "b", "z.kvt"), corrupt);

        CliResult result = CliRunner.Run("verify", dir);

        Assert.Equal(1, result.ExitCode);
        string[] lines = result.Output.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith($"OK {Path.Combine(dir, "b", "nested", "a.kvt")} (q8 level 0, 9 tokens, ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"FAIL {Path.Combine(dir, "b", "z.kvt")}: SectionChecksum: layer 1 V payload checksum does not match.", lines[1], StringComparison.Ordinal);
        Assert.StartsWith($"OK {Path.Combine(dir, "c.kvt")} (raw level 0, 9 tokens, ", lines[2], StringComparison.Ordinal);
        Assert.Equal("verified 3 records: 2 OK, 1 failed", lines[3]);
    }

    [Fact]
    public void Verify_decodes_every_payload_not_just_the_checksums()
    {
        string path = _files.Encode("q8.kvt", "--codec", "q8");
        byte[] r = File.ReadAllBytes(path);
        RecordEditor.Payload(r, 2)[4 * 9 * 2] = 0x80; // a quantized value of -128 past the 9 tokens x 2 heads scales
        File.WriteAllBytes(path, RecordEditor.SealSection(r, 2));

        CliResult result = CliRunner.Run("verify", path);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"FAIL {path}: BadPayload: ", result.Output, StringComparison.Ordinal);
        Assert.Contains("-128", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_zero_padding_is_reported_on_an_OK_line()
    {
        string path = _files.Encode("padded.kvt", "--codec", "raw");
        byte[] r = File.ReadAllBytes(path);
        int padding = 160 + SyntheticKvFiles.ModelId.Length; // the byte after the 15-byte model id
        r[padding] = 0x11;
        File.WriteAllBytes(path, RecordEditor.SealHeader(r));

        CliResult result = CliRunner.Run("verify", path);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"; non-zero padding at byte {padding}", result.Output, StringComparison.Ordinal);
        Assert.Contains("1 OK, 0 failed, 1 with non-zero padding", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_and_foreign_files_fail_with_their_kind()
    {
        string dir = _files.PathOf("mixed");
        Directory.CreateDirectory(dir);
        byte[] good = File.ReadAllBytes(_files.Encode("good.kvt", "--codec", "raw"));
        File.WriteAllBytes(Path.Combine(dir, "1-truncated.kvt"), good[..^10]);
        File.WriteAllBytes(Path.Combine(dir, "2-foreign.kvt"), File.ReadAllBytes(_files.KvPath));

        CliResult result = CliRunner.Run("verify", dir);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"FAIL {Path.Combine(dir, "1-truncated.kvt")}: Truncated: ", result.Output, StringComparison.Ordinal);
        Assert.Contains($"FAIL {Path.Combine(dir, "2-foreign.kvt")}: BadMagic: ", result.Output, StringComparison.Ordinal);
        Assert.Contains("verified 2 records: 0 OK, 2 failed", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_path_is_a_one_line_error_and_an_empty_folder_verifies_nothing()
    {
        CliResult missing = CliRunner.Run("verify", _files.PathOf("absent"));
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("kvtier: ", missing.Error, StringComparison.Ordinal);

        string empty = _files.PathOf("empty");
        Directory.CreateDirectory(empty);
        CliResult none = CliRunner.Run("verify", empty);
        Assert.Equal(0, none.ExitCode);
        Assert.Equal("verified 0 records: 0 OK, 0 failed", none.Output.Trim());
    }
}
