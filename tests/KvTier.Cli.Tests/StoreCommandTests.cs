using System.Text.Json;
using KvTier.Format;
using KvTier.Storage;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier store put|get|list|delete</c>: records go in under their header's key and come back bit for bit.</summary>
public sealed class StoreCommandTests : IDisposable
{
    private readonly StoreFixture _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Put_prints_each_key_and_get_writes_the_identical_record_across_processes()
    {
        string[] records = [_files.WriteRecord(1), _files.WriteRecord(2, tokens: 300), _files.WriteRecord(3, tokens: 17)];

        CliResult put = CliRunner.RunProcess(["store", "put", _files.Store, .. records]);

        Assert.True(put.ExitCode == 0, put.Error);
        Assert.Equal(string.Empty, put.Error);
        string[] keys = StoreFixture.Lines(put.Output);
        Assert.Equal(records.Select(r => ChunkRecord.Parse(File.ReadAllBytes(r)).Header.Key.ToString()), keys);
        for (int i = 0; i < records.Length; i++)
        {
            string copy = _files.PathOf($"copy-{i}.kvt");
            CliResult get = CliRunner.RunProcess("store", "get", _files.Store, "--key", keys[i], "--out", copy);

            Assert.True(get.ExitCode == 0, get.Error);
            Assert.Contains(keys[i], get.Output, StringComparison.Ordinal);
            Assert.Equal(File.ReadAllBytes(records[i]), File.ReadAllBytes(copy));
        }
    }

    [Fact]
    public void Get_of_a_key_never_stored_exits_with_the_miss_code_and_writes_nothing()
    {
        _files.Put([_files.WriteRecord(1)]);
        string missing = TestRecords.Key(99).ToString();
        string output = _files.PathOf("out.kvt");

        CliResult result = CliRunner.Run("store", "get", _files.Store, "--key", missing, "--out", output);

        Assert.Equal(4, result.ExitCode);
        Assert.Equal($"kvtier: key {missing} is not stored in {_files.Store}.", result.Error.TrimEnd('\n'));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Delete_then_get_misses_and_a_second_delete_misses_too()
    {
        string[] keys = _files.Put([_files.WriteRecord(1), _files.WriteRecord(2)]);

        CliResult delete = CliRunner.Run("store", "delete", _files.Store, "--key", keys[0]);
        CliResult get = CliRunner.Run("store", "get", _files.Store, "--key", keys[0], "--out", _files.PathOf("out.kvt"));
        CliResult again = CliRunner.Run("store", "delete", _files.Store, "--key", keys[0]);
        CliResult other = CliRunner.Run("store", "get", _files.Store, "--key", keys[1], "--out", _files.PathOf("other.kvt"));

        Assert.Equal(0, delete.ExitCode);
        Assert.Equal($"deleted {keys[0]}", delete.Output.TrimEnd('\n'));
        Assert.Equal(4, get.ExitCode);
        Assert.Equal(4, again.ExitCode);
        Assert.Equal(0, other.ExitCode);
    }

    [Fact]
    public void List_shows_one_line_per_record_in_key_order_and_json_gives_their_places()
    {
        string[] records = [_files.WriteRecord(1), _files.WriteRecord(2, tokens: 9)];
        string[] keys = _files.Put(records);

        CliResult text = CliRunner.Run("store", "list", _files.Store);
        CliResult json = CliRunner.Run("store", "list", _files.Store, "--json");

        Assert.Equal(0, text.ExitCode);
        string[] lines = StoreFixture.Lines(text.Output);
        Assert.Equal("# key\tkind\ttokens\tcodec\tlevel\tbytes\tsegment\toffset", lines[0]);
        string[] rows = lines.Where(l => !l.StartsWith('#')).ToArray();
        Assert.Equal(keys.Order(StringComparer.Ordinal), rows.Select(r => r.Split('\t')[0]));
        string row2 = rows.Single(r => r.StartsWith(keys[1], StringComparison.Ordinal));
        Assert.StartsWith($"{keys[1]}\tprefix\t9\traw\t0\t{new FileInfo(records[1]).Length}\t1\t", row2, StringComparison.Ordinal);
        Assert.StartsWith("# 2 records, ", lines[^1], StringComparison.Ordinal);

        Assert.Equal(0, json.ExitCode);
        using JsonDocument doc = JsonDocument.Parse(json.Output);
        JsonElement[] entries = [.. doc.RootElement.GetProperty("records").EnumerateArray()];
        Assert.Equal(2, entries.Length);
        foreach (JsonElement e in entries)
        {
            string file = e.GetProperty("segmentFile").GetString()!;
            Assert.True(File.Exists(file), file);
            Assert.Equal("raw", e.GetProperty("codec").GetString());
            Assert.Equal(0, e.GetProperty("offset").GetInt64() % 4096);
        }
    }

    [Fact]
    public void A_bad_key_is_one_clear_line_and_exit_1()
    {
        _files.Put([_files.WriteRecord(1)]);

        CliResult result = CliRunner.Run("store", "get", _files.Store, "--key", "not-hex", "--out", _files.PathOf("out.kvt"));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("kvtier: --key \"not-hex\" is not a chunk key: expected 64 hexadecimal digits.", result.Error.TrimEnd('\n'));
    }

    [Fact]
    public void An_invalid_record_file_is_refused_naming_it_and_earlier_records_stay_stored()
    {
        string good = _files.WriteRecord(1);
        string bad = _files.PathOf("bad.kvt");
        byte[] bytes = File.ReadAllBytes(_files.WriteRecord(2));
        bytes[(int)ChunkRecord.Parse(bytes).Sections[^1].Offset + 1] ^= 0x40; // inside the last section's payload
        File.WriteAllBytes(bad, bytes);

        CliResult result = CliRunner.Run("store", "put", _files.Store, good, bad);

        Assert.Equal(1, result.ExitCode);
        Assert.Single(StoreFixture.Lines(result.Output));
        Assert.StartsWith($"kvtier: {bad}: not stored: ", result.Error, StringComparison.Ordinal);
        CliResult list = CliRunner.Run("store", "list", _files.Store);
        Assert.StartsWith("# 1 record, ", StoreFixture.Lines(list.Output)[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_commands_refuse_a_directory_that_is_not_a_store_and_leave_it_untouched()
    {
        string plain = _files.PathOf("plain");
        Directory.CreateDirectory(plain);

        CliResult result = CliRunner.Run("store", "list", plain);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is not a KvTier store", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(plain));
    }

    [Fact]
    public void A_store_another_process_holds_is_refused_with_exit_1()
    {
        string[] keys = _files.Put([_files.WriteRecord(1)]);

        using (KvStore held = KvStore.Open(new KvStoreOptions { Directory = _files.Store, CreateIfMissing = false }))
        {
            CliResult list = CliRunner.RunProcess("store", "list", _files.Store);
            CliResult put = CliRunner.RunProcess("store", "put", _files.Store, _files.WriteRecord(2));

            foreach (CliResult result in new[] { list, put })
            {
                Assert.Equal(1, result.ExitCode);
                string line = Assert.Single(StoreFixture.Lines(result.Error));
                Assert.StartsWith("kvtier: ", line, StringComparison.Ordinal);
                Assert.Contains("is open in another process", line, StringComparison.Ordinal);
            }
        }

        // Released: the store opens again and nothing changed.
        CliResult after = CliRunner.Run("store", "list", _files.Store);
        Assert.Equal(0, after.ExitCode);
        Assert.Contains(keys[0], after.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(TestRecords.Key(2).ToString(), after.Output, StringComparison.Ordinal);
    }
}
