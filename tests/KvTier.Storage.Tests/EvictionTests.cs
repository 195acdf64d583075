using KvTier.Storage.Segments;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// Over its disk capacity the store evicts the least recently put or read records, in that order, across reopens;
/// listing and membership checks do not count as use; an evicted record leaves no tombstone.
/// </summary>
public sealed class EvictionTests
{
    // 10 tokens: every record fills exactly one 4 KiB frame, so capacities count records.
    private static readonly long Frame = SegmentFormat.RecordFrameSize(TestRecords.Create(0, tokens: 10).Length);

    private static byte[] Record(int id) => TestRecords.Create(id, tokens: 10, contentSeed: id);

    [Fact]
    public void The_least_recently_used_record_goes_first_and_a_get_makes_a_record_recent()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options(disk: 10 * Frame));
        for (int id = 0; id < 10; id++)
            store.Put(Record(id));
        Assert.True(store.TryRead(TestRecords.Key(0), out _));
        Assert.True(store.TryRead(TestRecords.Key(1), out _));
        // Membership and listing are not uses.
        Assert.True(store.Contains(TestRecords.Key(2)));
        _ = store.Enumerate();
        _ = store.LongestPrefix([TestRecords.Key(3)]);

        store.Put(Record(10));
        store.Put(Record(11));
        store.Put(Record(12));
        store.Flush(); // Eviction runs in the group after the one that acknowledged the put.
        Assert.Equal(new[] { 0, 1, 5, 6, 7, 8, 9, 10, 11, 12 }, Stored(store, 13));
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(3, stats.Evictions);
        Assert.Equal(10 * Frame, stats.LiveBytes);
    }

    [Fact]
    public void Replacing_a_record_makes_it_recent()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options(disk: 4 * Frame));
        for (int id = 0; id < 4; id++)
            store.Put(Record(id));
        store.Put(TestRecords.Create(0, tokens: 10, contentSeed: 50));
        store.Put(Record(4));
        store.Flush();
        Assert.Equal(new[] { 0, 2, 3, 4 }, Stored(store, 5));
    }

    [Fact]
    public void Recency_survives_a_reopen()
    {
        using var dir = new StoreDirectory();
        using (KvStore store = KvStore.Open(dir.Options(disk: 10 * Frame)))
        {
            for (int id = 0; id < 10; id++)
                store.Put(Record(id));
            foreach (int id in new[] { 4, 0, 2 })
                Assert.True(store.TryRead(TestRecords.Key(id), out _));
        }
        using (KvStore store = KvStore.Open(dir.Options(disk: 10 * Frame)))
        {
            for (int id = 10; id < 14; id++)
                store.Put(Record(id));
            store.Flush();
            // 1, 3, 5 and 6 were the least recently used (4, 0 and 2 were read after their puts).
            Assert.Equal(new[] { 0, 2, 4, 7, 8, 9, 10, 11, 12, 13 }, Stored(store, 14));
        }
    }

    [Fact]
    public void Opening_with_a_smaller_capacity_evicts_down_to_it_oldest_first()
    {
        using var dir = new StoreDirectory();
        using (KvStore store = KvStore.Open(dir.Options(disk: 20 * Frame)))
        {
            for (int id = 0; id < 20; id++)
                store.Put(Record(id));
            Assert.True(store.TryRead(TestRecords.Key(3), out _));
        }
        using (KvStore store = KvStore.Open(dir.Options(disk: 5 * Frame)))
        {
            store.Flush();
            Assert.Equal(new[] { 3, 16, 17, 18, 19 }, Stored(store, 20));
            Assert.Equal(5 * Frame, store.GetStatistics().LiveBytes);
        }
    }

    [Fact]
    public void An_explicit_eviction_is_durable_but_leaves_no_tombstone_for_a_repair()
    {
        using var dir = new StoreDirectory();
        using (KvStore store = KvStore.Open(dir.Options()))
        {
            store.Put(Record(1));
            store.Put(Record(2));
            Assert.True(store.Evict(TestRecords.Key(1)));
            Assert.False(store.Evict(TestRecords.Key(1)));
            Assert.True(store.Delete(TestRecords.Key(2)));
            StoreStatistics stats = store.GetStatistics();
            Assert.Equal(1, stats.Evictions);
            Assert.Equal(1, stats.Deletes);
        }
        using (KvStore store = KvStore.Open(dir.Options()))
            Assert.Empty(store.Enumerate());

        // The format spec: an evicted record is valid data that a rebuilt index may bring back; a deleted one is not.
        Directory.Delete(dir.Index, recursive: true);
        KvStore.Repair(dir.Path);
        using (KvStore store = KvStore.Open(dir.Options()))
        {
            Assert.True(store.TryRead(TestRecords.Key(1), out byte[]? bytes));
            Assert.Equal(Record(1), bytes);
            Assert.False(store.Contains(TestRecords.Key(2)));
        }
    }

    private static int[] Stored(KvStore store, int range) => [.. Enumerable.Range(0, range).Where(id => store.Contains(TestRecords.Key(id)))];
}
