using System.Text.Json;
using KvTier.Format;
using KvTier.Keys;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier inspect</c> shows every header field and the section table, as text or one JSON object.</summary>
public sealed class InspectCommandTests : IDisposable
{
    private readonly RecordFileFixture _files = new(tokens: 11);

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Text_shows_the_header_fields_and_one_row_per_section()
    {
        string path = _files.Encode("q8.kvt", "--codec", "q8");
        ChunkRecord record = ChunkRecord.Parse(File.ReadAllBytes(path));

        CliResult result = CliRunner.Run("inspect", path);

        Assert.Equal(0, result.ExitCode);
        string text = result.Output;
        foreach (string field in new[] { "record_length", "format_version", "min_reader_version", "flags", "header_size", "section_entry_size",
            "table_end", "header_checksum", "codec", "model_id", "fingerprint", "layout", "rope", "key_kind", "chunk_key", "token_count", "positions" })
        {
            Assert.Contains(field + " ", text, StringComparison.Ordinal);
        }

        Assert.Contains("q8 (id 1), level 0, lossy", text, StringComparison.Ordinal);
        Assert.Contains(SyntheticKvFiles.ModelId, text, StringComparison.Ordinal);
        Assert.Contains(record.Header.Fingerprint.ToString(), text, StringComparison.Ordinal);
        Assert.Contains(record.Header.Key.ToString(), text, StringComparison.Ordinal);
        Assert.Contains("3 layers, 2 KV heads x 8 (kv_dim 16), f32", text, StringComparison.Ordinal);
        Assert.Contains("positions           0..10 (first_position 0)", text, StringComparison.Ordinal);
        string[] rows = text.Split('\n').SkipWhile(l => !l.StartsWith("# section", StringComparison.Ordinal)).Skip(1).Where(l => l.Length > 0).ToArray();
        Assert.Equal(6, rows.Length);
        SectionEntry first = record.Sections[0];
        // q8: 11 tokens x (2 scales x 4 bytes + 16 values) = 264 bytes over 176 elements = 1.5 bytes per element.
        Assert.Equal($"0\t0\tk\t{first.Offset}\t{first.Length}\t{first.Checksum:x16}\t1.500", rows[0]);
        Assert.StartsWith("5\t2\tv\t", rows[5], StringComparison.Ordinal);
    }

    [Fact]
    public void Json_is_one_object_with_every_field()
    {
        string path = _files.Encode("raw.kvt", "--codec", "raw");
        ChunkRecord record = ChunkRecord.Parse(File.ReadAllBytes(path));

        CliResult result = CliRunner.Run("inspect", path, "--json");

        Assert.Equal(0, result.ExitCode);
        using JsonDocument json = JsonDocument.Parse(result.Output);
        JsonElement root = json.RootElement;
        Assert.Equal(path, root.GetProperty("path").GetString());
        Assert.Equal(new FileInfo(path).Length, root.GetProperty("recordLength").GetInt64());
        Assert.Equal(1, root.GetProperty("formatVersion").GetInt32());
        Assert.Equal(1, root.GetProperty("minReaderVersion").GetInt32());
        Assert.Equal(0u, root.GetProperty("flags").GetUInt32());
        Assert.Equal(160 + 16, root.GetProperty("headerSize").GetInt32()); // "synthetic-model" is 15 bytes, padded to 16
        Assert.Equal(32, root.GetProperty("sectionEntrySize").GetInt32());
        Assert.Equal(176 + 6 * 32, root.GetProperty("tableEnd").GetInt64());
        Assert.Equal(16, root.GetProperty("headerChecksum").GetString()!.Length);
        Assert.Equal("raw", root.GetProperty("codec").GetString());
        Assert.Equal(0, root.GetProperty("codecId").GetInt32());
        Assert.Equal(0, root.GetProperty("level").GetInt32());
        Assert.True(root.GetProperty("lossless").GetBoolean());
        Assert.Equal(SyntheticKvFiles.ModelId, root.GetProperty("modelId").GetString());
        Assert.Equal(record.Header.Fingerprint.ToString(), root.GetProperty("fingerprint").GetString());
        JsonElement layout = root.GetProperty("layout");
        Assert.Equal(3, layout.GetProperty("layers").GetInt32());
        Assert.Equal(2, layout.GetProperty("kvHeads").GetInt32());
        Assert.Equal(8, layout.GetProperty("headDim").GetInt32());
        Assert.Equal(16, layout.GetProperty("kvDim").GetInt32());
        Assert.Equal("f32", layout.GetProperty("elementType").GetString());
        Assert.Equal("adjacent", layout.GetProperty("ropePairing").GetString());
        Assert.Equal(10000, layout.GetProperty("ropeTheta").GetDouble());
        Assert.Equal(8, layout.GetProperty("rotaryDims").GetInt32());
        Assert.True(layout.GetProperty("keysAfterRope").GetBoolean());
        Assert.Equal("prefix", root.GetProperty("keyKind").GetString());
        Assert.Equal(ChunkKey.Parse(root.GetProperty("key").GetString()!), record.Header.Key);
        Assert.Equal(11, root.GetProperty("tokenCount").GetInt32());
        Assert.Equal(0, root.GetProperty("firstPosition").GetInt32());
        Assert.Equal(10, root.GetProperty("lastPosition").GetInt32());
        Assert.Equal(6, root.GetProperty("sectionCount").GetInt32());
        JsonElement[] sections = [.. root.GetProperty("sections").EnumerateArray()];
        Assert.Equal(6, sections.Length);
        for (int j = 0; j < sections.Length; j++)
        {
            SectionEntry entry = record.Sections[j];
            Assert.Equal(j, sections[j].GetProperty("index").GetInt32());
            Assert.Equal(j / 2, sections[j].GetProperty("layer").GetInt32());
            Assert.Equal(j % 2 == 0 ? "k" : "v", sections[j].GetProperty("kind").GetString());
            Assert.Equal(entry.Offset, sections[j].GetProperty("offset").GetInt64());
            Assert.Equal(entry.Length, sections[j].GetProperty("length").GetInt64());
            Assert.Equal(entry.Checksum.ToString("x16"), sections[j].GetProperty("checksum").GetString());
            Assert.Equal(4.0, sections[j].GetProperty("bytesPerElement").GetDouble()); // raw f32
        }
    }

    [Fact]
    public void An_invalid_record_is_one_line_naming_its_error_kind()
    {
        string path = _files.Encode("bad.kvt", "--codec", "raw");
        byte[] bytes = File.ReadAllBytes(path);
        bytes[70] ^= 1; // inside the chunk key: the header checksum no longer matches
        File.WriteAllBytes(path, bytes);

        CliResult result = CliRunner.Run("inspect", path, "--json");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(string.Empty, result.Output);
        Assert.StartsWith("kvtier: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("HeaderChecksum", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void A_missing_file_is_a_one_line_error()
    {
        CliResult result = CliRunner.Run("inspect", _files.PathOf("absent.kvt"));

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("kvtier: ", result.Error, StringComparison.Ordinal);
    }
}
