using KvTier.Keys;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

public class PutGetTests
{
    [Fact]
    public void Put_then_get_returns_the_record_bit_exact_from_each_tier_and_after_reopen()
    {
        using var dir = new StoreDirectory();
        byte[] record = TestRecords.Create(1, tokens: 7, contentSeed: 3);
        ChunkKey key;
        using (var store = KvStore.Open(dir.Options(memory: 1 << 20)))
        {
            key = store.Put(record);
            Assert.Equal(TestRecords.Key(1), key);
            Assert.True(store.TryGet(key, out RecordLease? lease));
            using (lease)
            {
                Assert.Equal(StoreTier.Memory, lease.Tier);
                Assert.Equal(record, lease.Bytes.ToArray());
            }
        }
        using (var store = KvStore.Open(dir.Options(memory: 1 << 20)))
        {
            Assert.True(store.TryGet(key, out RecordLease? lease));
            using (lease)
            {
                Assert.Equal(StoreTier.Disk, lease.Tier);
                Assert.Equal(record, lease.Bytes.ToArray());
            }
            Assert.True(store.TryGet(key, out lease));
            using (lease)
                Assert.Equal(StoreTier.Memory, lease.Tier); // promoted on the disk hit
            StoreStatistics stats = store.GetStatistics();
            Assert.Equal(1, stats.DiskHits);
            Assert.Equal(1, stats.MemoryHits);
            Assert.Equal(1, stats.Entries);
        }
    }

    [Fact]
    public void Large_records_written_past_the_page_cache_read_back_at_once_and_after_reopen()
    {
        using var dir = new StoreDirectory();
        // 20,000 tokens × 64 bytes: frames over 1 MiB go through O_DIRECT where the file system allows it, while
        // readers use the segment's memory map; both must see the same bytes.
        byte[][] records = [TestRecords.Create(1, tokens: 20_000, contentSeed: 1), TestRecords.Create(2, tokens: 3),
            TestRecords.Create(3, tokens: 40_000, contentSeed: 3)];
        using (var store = KvStore.Open(dir.Options(segment: 8L << 20) with { MaxRecordBytes = null }))
        {
            foreach (byte[] record in records)
                store.Put(record);
            for (int i = 0; i < records.Length; i++)
            {
                Assert.True(store.TryRead(TestRecords.Key(i + 1), out byte[]? bytes));
                Assert.Equal(records[i], bytes);
            }
        }
        using (var store = KvStore.Open(dir.Options(segment: 8L << 20) with { MaxRecordBytes = null }))
        {
            for (int i = 0; i < records.Length; i++)
            {
                Assert.True(store.TryRead(TestRecords.Key(i + 1), out byte[]? bytes));
                Assert.Equal(records[i], bytes);
            }
            Assert.True(store.Verify().Ok);
        }
    }

    [Fact]
    public void Delete_is_durable_and_a_missing_key_misses()
    {
        using var dir = new StoreDirectory();
        using (var store = KvStore.Open(dir.Options()))
        {
            store.Put(TestRecords.Create(1));
            store.Put(TestRecords.Create(2));
            Assert.True(store.Delete(TestRecords.Key(1)));
            Assert.False(store.Delete(TestRecords.Key(1)));
            Assert.False(store.TryGet(TestRecords.Key(1), out _));
        }
        using (var store = KvStore.Open(dir.Options()))
        {
            Assert.False(store.Contains(TestRecords.Key(1)));
            Assert.True(store.Contains(TestRecords.Key(2)));
            Assert.Equal(1, store.GetStatistics().Entries);
        }
    }

    [Fact]
    public void Many_puts_roll_segments_and_all_read_back()
    {
        using var dir = new StoreDirectory();
        var records = Enumerable.Range(0, 300).Select(i => TestRecords.Create(i, tokens: 1 + i % 50, contentSeed: i)).ToArray();
        using (var store = KvStore.Open(dir.Options()))
        {
            store.PutBatch(records.Select(r => (ReadOnlyMemory<byte>)r).ToArray());
            Assert.True(store.GetStatistics().Segments > 1);
        }
        using (var store = KvStore.Open(dir.Options()))
        {
            for (int i = 0; i < records.Length; i++)
            {
                Assert.True(store.TryRead(TestRecords.Key(i), out byte[]? bytes));
                Assert.Equal(records[i], bytes);
            }
        }
    }
}
