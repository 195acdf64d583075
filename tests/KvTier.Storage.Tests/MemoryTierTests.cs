using KvTier.Keys;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// The memory tier holds copies of recently put or read records within its byte capacity: disk hits are promoted,
/// copies of replaced or deleted records are never served, large records are not cached, and a lease on a copy keeps
/// its bytes after the copy is evicted.
/// </summary>
public sealed class MemoryTierTests
{
    [Fact]
    public void A_disk_hit_is_promoted_and_later_gets_are_served_from_memory()
    {
        using var dir = new StoreDirectory();
        byte[] record = TestRecords.Create(1, tokens: 50, contentSeed: 1);
        using (KvStore store = KvStore.Open(dir.Options(memory: 1 << 20)))
        {
            store.Put(record);
            Assert.Equal(StoreTier.Memory, TierOf(store, 1)); // Write-through: the put left a copy.
        }
        using (KvStore store = KvStore.Open(dir.Options(memory: 1 << 20)))
        {
            Assert.Equal(0, store.GetStatistics().MemoryEntries);
            Assert.False(store.Enumerate().Single().InMemory);
            Assert.Equal(StoreTier.Disk, TierOf(store, 1));
            Assert.True(store.Enumerate().Single().InMemory);
            Assert.Equal(StoreTier.Memory, TierOf(store, 1));
            Assert.True(store.TryRead(TestRecords.Key(1), out byte[]? bytes));
            Assert.Equal(record, bytes);
            StoreStatistics stats = store.GetStatistics();
            Assert.Equal(1, stats.DiskHits);
            Assert.Equal(2, stats.MemoryHits);
            Assert.Equal(1, stats.MemoryEntries);
        }
    }

    [Fact]
    public void Read_ahead_skips_records_the_memory_tier_holds_and_asks_for_the_others()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options(memory: 1 << 20));
        store.Put(TestRecords.Create(1, tokens: 50, contentSeed: 1)); // write-through: a copy in memory
        store.Put(TestRecords.Create(2, tokens: 50, contentSeed: 2));
        ChunkKey[] keys = [TestRecords.Key(1), TestRecords.Key(2), TestRecords.Key(3)]; // 3 is not stored

        store.ReadAhead(keys, 4096);
        Assert.Equal(0, store.RecordsReadAhead); // both stored records are in memory: their segment pages are not wanted

        using var other = new StoreDirectory();
        using (KvStore diskOnly = KvStore.Open(other.Options(memory: 0)))
        {
            diskOnly.Put(TestRecords.Create(1, tokens: 50, contentSeed: 1));
            diskOnly.ReadAhead(keys, 4096);
            Assert.Equal(1, diskOnly.RecordsReadAhead); // no memory tier: the stored record is read ahead from disk
        }
    }

    [Fact]
    public void The_tier_stays_within_its_capacity_evicting_least_recently_used_copies()
    {
        using var dir = new StoreDirectory();
        const long capacity = 64 * 1024;
        using KvStore store = KvStore.Open(dir.Options(memory: capacity));
        var records = new Dictionary<int, byte[]>();
        for (int id = 0; id < 60; id++)
        {
            store.Put(records[id] = TestRecords.Create(id, tokens: 1 + id * 13 % 200, contentSeed: id));
            Assert.InRange(store.GetStatistics().MemoryBytes, 0, capacity);
        }
        StoreStatistics stats = store.GetStatistics();
        Assert.True(stats.MemoryEvictions > 0);
        Assert.True(stats.MemoryEntries is > 0 and < 60);
        // The newest put is cached; the oldest copies went first.
        Assert.Equal(StoreTier.Memory, TierOf(store, 59));
        Assert.Equal(StoreTier.Disk, TierOf(store, 0));
        foreach ((int id, byte[] expected) in records)
        {
            Assert.True(store.TryRead(TestRecords.Key(id), out byte[]? bytes));
            Assert.Equal(expected, bytes);
            Assert.InRange(store.GetStatistics().MemoryBytes, 0, capacity);
        }
    }

    [Fact]
    public void A_record_larger_than_half_the_tier_is_served_from_disk_only()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options(memory: 64 * 1024));
        byte[] large = TestRecords.Create(1, tokens: 300, contentSeed: 1); // ~38 KiB
        store.Put(large);
        Assert.Equal(StoreTier.Disk, TierOf(store, 1));
        Assert.Equal(StoreTier.Disk, TierOf(store, 1));
        Assert.Equal(0, store.GetStatistics().MemoryEntries);
    }

    [Fact]
    public void Copies_of_replaced_deleted_or_evicted_records_are_never_served()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options(memory: 1 << 20));
        byte[] first = TestRecords.Create(1, tokens: 20, contentSeed: 1);
        byte[] second = TestRecords.Create(1, tokens: 30, contentSeed: 2);
        store.Put(first);
        Assert.Equal(StoreTier.Memory, TierOf(store, 1));
        store.Put(second);
        Assert.True(store.TryGet(TestRecords.Key(1), out RecordLease? lease));
        using (lease)
            Assert.Equal(second, lease.Bytes.ToArray());

        Assert.True(store.Delete(TestRecords.Key(1)));
        Assert.False(store.TryGet(TestRecords.Key(1), out _));
        store.Put(first);
        Assert.True(store.Evict(TestRecords.Key(1)));
        Assert.False(store.TryGet(TestRecords.Key(1), out _));
        Assert.Equal(0, store.GetStatistics().MemoryEntries);
    }

    [Fact]
    public void A_lease_on_a_copy_keeps_its_bytes_after_the_copy_is_evicted()
    {
        using var dir = new StoreDirectory();
        const long capacity = 32 * 1024;
        using KvStore store = KvStore.Open(dir.Options(memory: capacity));
        byte[] record = TestRecords.Create(0, tokens: 100, contentSeed: 0);
        store.Put(record);
        Assert.True(store.TryGet(TestRecords.Key(0), out RecordLease? lease));
        using (lease)
        {
            Assert.Equal(StoreTier.Memory, lease.Tier);
            for (int id = 1; id < 20; id++)
                store.Put(TestRecords.Create(id, tokens: 100, contentSeed: id));
            Assert.False(store.Enumerate().Single(e => e.Key == TestRecords.Key(0)).InMemory);
            Assert.Equal(record, lease.Bytes.ToArray());
            // The leased buffer still counts against the capacity until it is released.
            Assert.InRange(store.GetStatistics().MemoryBytes, 0, capacity);
        }
        Assert.Equal(0, store.GetStatistics().OpenLeases);
    }

    [Fact]
    public void Without_a_memory_tier_every_hit_is_a_disk_hit()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options(memory: 0));
        store.Put(TestRecords.Create(1, tokens: 20, contentSeed: 1));
        Assert.Equal(StoreTier.Disk, TierOf(store, 1));
        Assert.Equal(StoreTier.Disk, TierOf(store, 1));
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(0, stats.MemoryHits);
        Assert.Equal(0, stats.MemoryBytes);
    }

    private static StoreTier TierOf(KvStore store, int id)
    {
        Assert.True(store.TryGet(TestRecords.Key(id), out RecordLease? lease), $"record {id} misses");
        using (lease)
            return lease.Tier;
    }

    [Fact]
    public void Memory_copies_serve_checked_sections_and_an_unchecked_copy_is_still_checked_on_read()
    {
        using var dir = new StoreDirectory();
        byte[] good = TestRecords.Create(1, tokens: 8, contentSeed: 1);
        byte[] bad = TestRecords.Create(2, tokens: 8, contentSeed: 2);
        Format.SectionEntry last = Format.ChunkRecord.Parse(bad).Sections[^1];
        bad[last.Offset] ^= 0x40; // A payload that fails its checksum; stored because this store does not check puts.

        using (var store = KvStore.Open(dir.Options(memory: 1 << 20)))
        {
            store.Put(good); // Checked before caching: the memory copy is trusted.
            Assert.True(store.TryGet(TestRecords.Key(1), ReadVerification.Header, out RecordLease? lease));
            using (lease)
            {
                Assert.Equal(StoreTier.Memory, lease.Tier);
                Format.ChunkRecord reference = Format.ChunkRecord.Parse(good);
                foreach (Format.SectionEntry section in reference.Sections)
                {
                    Assert.True(lease.TryGetSection(section.Layer, section.Kind, out ReadOnlySpan<byte> payload));
                    Assert.True(payload.SequenceEqual(reference.GetPayload(section.Layer, section.Kind)));
                }
            }
        }

        using (var store = KvStore.Open(dir.Options(memory: 1 << 20) with { VerifyOnPut = false }))
        {
            store.Put(bad);
            Assert.True(store.TryGet(TestRecords.Key(2), ReadVerification.Header, out RecordLease? lease));
            using (lease)
            {
                Assert.Equal(StoreTier.Memory, lease.Tier);
                Assert.False(lease.TryGetSection(last.Layer, last.Kind, out _));
            }
            Assert.Equal(1, store.GetStatistics().CorruptionEvents);
        }
    }
}
