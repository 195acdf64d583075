using System.Text.Json;
using KvTier.Format;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier verify DIR</c>, <c>inspect DIR</c>, <c>compact DIR</c> and <c>repair DIR</c> on a store: damage is found
/// and reported by exit code, accounting is visible, dead bytes are reclaimed, a lost index is rebuilt.
/// </summary>
public sealed class StoreMaintenanceTests : IDisposable
{
    private readonly StoreFixture _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Verify_passes_a_clean_store_and_exits_3_after_a_payload_byte_flips_in_a_segment()
    {
        string[] records = [_files.WriteRecord(1), _files.WriteRecord(2), _files.WriteRecord(3)];
        string[] keys = _files.Put(records);

        CliResult clean = CliRunner.Run("verify", _files.Store);

        Assert.Equal(0, clean.ExitCode);
        Assert.Equal($"verified store {_files.Store}: 3 records in 1 segment ({SegmentDataBytes()} bytes): OK", clean.Output.TrimEnd('\n'));

        // Find record 2 in its segment file through `store list --json`, and flip a byte of its first section's payload.
        using (JsonDocument list = JsonDocument.Parse(CliRunner.Run("store", "list", _files.Store, "--json").Output))
        {
            JsonElement entry = list.RootElement.GetProperty("records").EnumerateArray().Single(e => e.GetProperty("key").GetString() == keys[1]);
            string segment = entry.GetProperty("segmentFile").GetString()!;
            long offset = entry.GetProperty("offset").GetInt64();
            byte[] file = File.ReadAllBytes(segment);
            ChunkRecord stored = ChunkRecord.Parse(file.AsMemory((int)offset, (int)entry.GetProperty("bytes").GetInt64()));
            Assert.Equal(keys[1], stored.Header.Key.ToString());
            file[offset + stored.Sections[0].Offset + 3] ^= 0x10;
            File.WriteAllBytes(segment, file);
        }

        CliResult damaged = CliRunner.Run("verify", _files.Store);

        Assert.Equal(3, damaged.ExitCode);
        string[] lines = StoreFixture.Lines(damaged.Output);
        Assert.StartsWith("PROBLEM segment 1 offset ", lines[0], StringComparison.Ordinal);
        Assert.Contains($"key {keys[1]}: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(": 1 problem, 1 corrupt record", lines[^1], StringComparison.Ordinal);
        // The corrupt record is never served; the others are.
        Assert.Equal(4, CliRunner.Run("store", "get", _files.Store, "--key", keys[1], "--out", _files.PathOf("bad.kvt")).ExitCode);
        Assert.Equal(0, CliRunner.Run("store", "get", _files.Store, "--key", keys[2], "--out", _files.PathOf("good.kvt")).ExitCode);
        Assert.Equal(File.ReadAllBytes(records[2]), File.ReadAllBytes(_files.PathOf("good.kvt")));
    }

    [Fact]
    public void Verify_of_a_folder_of_record_files_still_verifies_the_files()
    {
        string folder = _files.PathOf("records");
        Directory.CreateDirectory(folder);
        File.Copy(_files.WriteRecord(1), Path.Combine(folder, "a.kvt"));

        CliResult result = CliRunner.Run("verify", folder);

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith($"OK {Path.Combine(folder, "a.kvt")} (raw level 0, 4 tokens, ", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_json_shows_live_and_dead_bytes_tiers_and_every_segment()
    {
        string[] keys = _files.Put([_files.WriteRecord(1), _files.WriteRecord(2), _files.WriteRecord(3)]);
        Assert.Equal(0, CliRunner.Run("store", "delete", _files.Store, "--key", keys[0]).ExitCode);
        Assert.Equal(0, CliRunner.Run("store", "get", _files.Store, "--key", keys[1], "--out", _files.PathOf("got.kvt")).ExitCode);
        Assert.Equal(4, CliRunner.Run("store", "get", _files.Store, "--key", keys[0], "--out", _files.PathOf("miss.kvt")).ExitCode);

        CliResult result = CliRunner.Run("inspect", _files.Store, "--json");

        Assert.Equal(0, result.ExitCode);
        using JsonDocument json = JsonDocument.Parse(result.Output);
        JsonElement root = json.RootElement;
        Assert.Equal(_files.Store, root.GetProperty("path").GetString());
        Assert.Equal(2, root.GetProperty("records").GetInt64());
        long live = root.GetProperty("liveBytes").GetInt64();
        long dead = root.GetProperty("deadBytes").GetInt64();
        Assert.Equal(2 * 4096, live); // two small records, one 4 KiB frame each
        Assert.True(dead >= 4096, $"dead bytes {dead}: the deleted record's frame at least");
        Assert.Equal(live, root.GetProperty("tiers").GetProperty("disk").GetProperty("liveBytes").GetInt64());
        Assert.True(root.GetProperty("tiers").TryGetProperty("memory", out _));
        // Hit counters persist across the separate processes: one disk hit, one miss, three puts, one delete.
        JsonElement counters = root.GetProperty("counters");
        Assert.Equal(1, counters.GetProperty("diskHits").GetInt64());
        Assert.Equal(1, counters.GetProperty("misses").GetInt64());
        Assert.Equal(0.5, counters.GetProperty("diskHitRate").GetDouble());
        Assert.Equal(3, counters.GetProperty("puts").GetInt64());
        Assert.Equal(1, counters.GetProperty("deletes").GetInt64());
        JsonElement[] segments = [.. root.GetProperty("segments").EnumerateArray()];
        Assert.Equal(root.GetProperty("segmentCount").GetInt32(), segments.Length);
        Assert.NotEmpty(segments);
        Assert.Equal(live, segments.Sum(s => s.GetProperty("liveBytes").GetInt64()));
        Assert.Equal(dead, segments.Sum(s => s.GetProperty("deadBytes").GetInt64()));
        Assert.All(segments, s => Assert.True(File.Exists(s.GetProperty("file").GetString())));
        Assert.Equal("active", segments[^1].GetProperty("state").GetString());
    }

    [Fact]
    public void Inspect_text_of_a_store_names_its_tiers_and_segments()
    {
        _files.Put([_files.WriteRecord(1)]);

        CliResult result = CliRunner.Run("inspect", _files.Store);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("disk_tier           1 records, 4096 live bytes, 0 dead bytes, 1 segments", result.Output, StringComparison.Ordinal);
        Assert.Contains("memory_tier ", result.Output, StringComparison.Ordinal);
        Assert.Contains("# segment\tstate", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Compact_after_deletes_shrinks_the_segment_files_and_the_rest_reads_back()
    {
        // Records of about 256 KiB in 1 MiB segments: three segments for eight records.
        string[] records = Enumerable.Range(1, 8).Select(i => _files.WriteRecord(i, tokens: 2000)).ToArray();
        string[] keys = _files.Put(records, "--segment-mb", "1");
        foreach (string key in keys[..6])
            Assert.Equal(0, CliRunner.Run("store", "delete", _files.Store, "--key", key).ExitCode);
        (int filesBefore, long bytesBefore) = _files.SegmentFiles();
        Assert.True(filesBefore >= 3, $"{filesBefore} segment files");

        CliResult result = CliRunner.Run("compact", _files.Store, "--min-live", "1");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.StartsWith($"compacted {_files.Store}: ", result.Output, StringComparison.Ordinal);
        (int filesAfter, long bytesAfter) = _files.SegmentFiles();
        Assert.True(filesAfter < filesBefore, $"{filesBefore} -> {filesAfter} segment files");
        Assert.True(bytesAfter < bytesBefore, $"{bytesBefore} -> {bytesAfter} segment bytes");
        for (int i = 6; i < 8; i++)
        {
            string copy = _files.PathOf($"copy-{i}.kvt");
            Assert.Equal(0, CliRunner.Run("store", "get", _files.Store, "--key", keys[i], "--out", copy).ExitCode);
            Assert.Equal(File.ReadAllBytes(records[i]), File.ReadAllBytes(copy));
        }

        Assert.Equal(4, CliRunner.Run("store", "get", _files.Store, "--key", keys[0], "--out", _files.PathOf("gone.kvt")).ExitCode);
        Assert.Equal(0, CliRunner.Run("verify", _files.Store).ExitCode);
    }

    [Fact]
    public void Compact_rejects_a_fraction_outside_0_to_1()
    {
        _files.Put([_files.WriteRecord(1)]);

        CliResult result = CliRunner.Run("compact", _files.Store, "--min-live", "1.5");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("kvtier: --min-live 1.5 must be in (0, 1].", result.Error.TrimEnd('\n'));
    }

    [Fact]
    public void Repair_after_the_index_is_deleted_restores_every_record()
    {
        string[] records = [_files.WriteRecord(1), _files.WriteRecord(2, tokens: 100), _files.WriteRecord(3)];
        string[] keys = _files.Put(records);
        Directory.Delete(Path.Combine(_files.Store, Storage.KvStore.IndexDirectoryName), recursive: true);

        CliResult broken = CliRunner.Run("store", "list", _files.Store);
        CliResult repair = CliRunner.Run("repair", _files.Store);

        Assert.Equal(1, broken.ExitCode);
        Assert.Contains("kvtier repair", broken.Error, StringComparison.Ordinal);
        Assert.True(repair.ExitCode == 0, repair.Error);
        Assert.StartsWith($"repaired {_files.Store}: 1 segment scanned, 0 skipped; 3 records indexed", repair.Output, StringComparison.Ordinal);
        for (int i = 0; i < records.Length; i++)
        {
            string copy = _files.PathOf($"copy-{i}.kvt");
            Assert.Equal(0, CliRunner.Run("store", "get", _files.Store, "--key", keys[i], "--out", copy).ExitCode);
            Assert.Equal(File.ReadAllBytes(records[i]), File.ReadAllBytes(copy));
        }

        Assert.Equal(0, CliRunner.Run("verify", _files.Store).ExitCode);
    }

    private long SegmentDataBytes() => _files.SegmentFiles().Bytes - 4096;
}
