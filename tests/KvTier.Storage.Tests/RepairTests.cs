using KvTier.Keys;
using KvTier.Storage.Segments;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// Repair rebuilds the index from the segment files alone: the newest version of each key wins, deletes stay deleted,
/// the old index is kept aside, a torn tail of the newest segment is cut, and another store's segment is left out.
/// </summary>
public sealed class RepairTests
{
    [Fact]
    public void A_lost_index_is_rebuilt_with_the_latest_versions_and_without_deleted_records()
    {
        using var dir = new StoreDirectory();
        var live = new Dictionary<int, byte[]>();
        using (KvStore store = KvStore.Open(dir.Options() with { BackgroundCompaction = false }))
        {
            for (int id = 0; id < 300; id++)
                store.Put(live[id] = TestRecords.Create(id, tokens: 1 + id % 120, contentSeed: id));
            for (int id = 0; id < 300; id += 7)
                store.Put(live[id] = TestRecords.Create(id, tokens: 5, contentSeed: 500 + id));
            for (int id = 0; id < 300; id += 5)
            {
                Assert.True(store.Delete(TestRecords.Key(id)));
                live.Remove(id);
            }
            for (int id = 0; id < 300; id += 25)
                store.Put(live[id] = TestRecords.Create(id, tokens: 9, contentSeed: 900 + id)); // Put again after its delete.
        }

        Directory.Delete(dir.Index, recursive: true);
        RepairResult result = KvStore.Repair(dir.Path);
        Assert.Equal(live.Count, result.RecordsIndexed);
        Assert.Equal(dir.SegmentFiles().Length, result.SegmentsScanned);
        Assert.Equal(0, result.SegmentsSkipped);
        Assert.Equal(0, result.DamagedBytes);
        Assert.True(result.RecordsSuperseded > 0);

        using (KvStore store = KvStore.Open(dir.Options()))
        {
            for (int id = 0; id < 300; id++)
            {
                bool hit = store.TryRead(TestRecords.Key(id), out byte[]? bytes);
                Assert.True(live.ContainsKey(id) == hit, $"record {id} {(hit ? "came back" : "is missing")}");
                if (hit)
                    Assert.Equal(live[id], bytes);
            }
            Assert.True(store.Verify().Ok);
            // The rebuilt store takes new writes after the highest sequence it found.
            store.Put(TestRecords.Create(0, tokens: 3, contentSeed: 1));
            Assert.True(store.Delete(TestRecords.Key(1)));
        }
        Directory.Delete(dir.Index, recursive: true);
        KvStore.Repair(dir.Path);
        using (KvStore store = KvStore.Open(dir.Options()))
        {
            Assert.True(store.TryRead(TestRecords.Key(0), out byte[]? bytes));
            Assert.Equal(TestRecords.Create(0, tokens: 3, contentSeed: 1), bytes);
            Assert.False(store.Contains(TestRecords.Key(1)));
        }
    }

    [Fact]
    public void Repair_keeps_the_previous_index_aside()
    {
        using var dir = new StoreDirectory();
        using (KvStore store = KvStore.Open(dir.Options()))
            store.Put(TestRecords.Create(1));
        string[] before = [.. Directory.GetFiles(dir.Index).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        RepairResult result = KvStore.Repair(dir.Path);
        string aside = Path.Combine(dir.Path, KvStore.IndexDirectoryName + ".damaged");
        Assert.Equal(before, Directory.GetFiles(aside).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains(result.Notes, n => n.Contains(aside, StringComparison.Ordinal));
        using KvStore reopened = KvStore.Open(dir.Options());
        Assert.True(reopened.Contains(TestRecords.Key(1)));
    }

    [Fact]
    public void A_torn_tail_of_the_newest_segment_is_cut()
    {
        using var dir = new StoreDirectory();
        byte[] record = TestRecords.Create(1, tokens: 40, contentSeed: 1);
        using (KvStore writer = KvStore.Open(dir.Options()))
            writer.Put(record);
        // Half a frame after the last one, as a crash in the middle of an append leaves.
        string newest = dir.SegmentFiles()[^1];
        long length = new FileInfo(newest).Length;
        byte[] torn = TestRecords.Create(2, tokens: 40, contentSeed: 2)[..1000];
        using (var stream = new FileStream(newest, FileMode.Append))
            stream.Write(torn);

        RepairResult result = KvStore.Repair(dir.Path);
        Assert.Equal(torn.Length, result.TruncatedBytes);
        Assert.Equal(length, new FileInfo(newest).Length);
        using KvStore store = KvStore.Open(dir.Options());
        Assert.True(store.TryRead(TestRecords.Key(1), out byte[]? bytes));
        Assert.Equal(record, bytes);
        Assert.False(store.Contains(TestRecords.Key(2)));
        store.Put(TestRecords.Create(3));
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void A_segment_of_another_store_is_left_out()
    {
        using var dir = new StoreDirectory();
        using var other = new StoreDirectory();
        using (KvStore mine = KvStore.Open(dir.Options()))
            mine.Put(TestRecords.Create(1));
        using (KvStore theirs = KvStore.Open(other.Options()))
        {
            // Enough records that the other store's segment ids pass this store's.
            for (int id = 100; id < 400; id++)
                theirs.Put(TestRecords.Create(id, tokens: 100, contentSeed: id));
        }
        string foreign = other.SegmentFiles()[^1];
        File.Copy(foreign, Path.Combine(dir.Segments, Path.GetFileName(foreign)));
        Assert.True(SegmentFormat.TryParseFileName(Path.GetFileName(foreign), out ulong foreignId) && foreignId > 0);

        Directory.Delete(dir.Index, recursive: true);
        RepairResult result = KvStore.Repair(dir.Path);
        Assert.Equal(1, result.SegmentsSkipped);
        Assert.Contains(result.Notes, n => n.Contains(Path.GetFileName(foreign), StringComparison.Ordinal));
        using KvStore store = KvStore.Open(dir.Options());
        ChunkKey[] keys = [.. store.Enumerate().Select(e => e.Key)];
        Assert.Equal([TestRecords.Key(1)], keys);
    }
}
