using KvTier.Storage.Segments;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// Puts the store refuses: not a valid record (InvalidRecord), too large (RecordTooLarge), no room with eviction off
/// (Full). Each is a typed error that stores nothing and leaves the store as it was.
/// </summary>
public sealed class RejectedPutTests
{
    public static TheoryData<string> Malformations() => ["empty", "garbage", "truncated", "trailing byte", "flipped payload bit", "flipped header bit"];

    [Theory]
    [MemberData(nameof(Malformations))]
    public void An_invalid_record_is_refused_and_nothing_is_written(string malformation)
    {
        using var dir = new StoreDirectory();
        byte[] good = TestRecords.Create(1, tokens: 40, contentSeed: 1);
        byte[] bad = malformation switch
        {
            "empty" => [],
            "garbage" => [.. Enumerable.Range(0, 5000).Select(i => (byte)(i * 31))],
            "truncated" => good[..^100],
            "trailing byte" => [.. good, 0],
            "flipped payload bit" => Flip(good, good.Length - 10),
            _ => Flip(good, 20),
        };
        using KvStore store = KvStore.Open(dir.Options(memory: 1 << 20));
        KvStoreException error = Assert.Throws<KvStoreException>(() => store.Put(bad));
        Assert.Equal(StoreErrorKind.InvalidRecord, error.Kind);
        AssertEmpty(store, dir);

        // In a batch, headers are all checked before anything is written; a section checksum only when its record's
        // turn comes, so records before it may be stored. Never the bad one, nor any after it.
        error = Assert.Throws<KvStoreException>(() => store.PutBatch([TestRecords.Create(2), bad, TestRecords.Create(3)]));
        Assert.Equal(StoreErrorKind.InvalidRecord, error.Kind);
        store.Flush();
        Assert.False(store.Contains(TestRecords.Key(1)));
        Assert.False(store.Contains(TestRecords.Key(3)));
        if (malformation != "flipped payload bit")
            AssertEmpty(store, dir);
        // The store still works.
        store.Put(good);
        Assert.True(store.TryRead(TestRecords.Key(1), out byte[]? bytes));
        Assert.Equal(good, bytes);
    }

    [Fact]
    public void A_record_over_the_size_limits_is_refused()
    {
        using var dir = new StoreDirectory();
        byte[] record = TestRecords.Create(1, tokens: 200, contentSeed: 1);
        using (KvStore store = KvStore.Open(dir.Options() with { MaxRecordBytes = record.Length - 1 }))
        {
            KvStoreException error = Assert.Throws<KvStoreException>(() => store.Put(record));
            Assert.Equal(StoreErrorKind.RecordTooLarge, error.Kind);
            Assert.Contains(nameof(KvStoreOptions.MaxRecordBytes), error.Message, StringComparison.Ordinal);
            AssertEmpty(store, dir);
        }
        // A frame larger than the whole disk tier can never be stored either.
        using (KvStore store = KvStore.Open(dir.Options(disk: SegmentFormat.RecordFrameSize(record.Length) - 4096)))
        {
            KvStoreException error = Assert.Throws<KvStoreException>(() => store.Put(record));
            Assert.Equal(StoreErrorKind.RecordTooLarge, error.Kind);
            Assert.Contains(nameof(KvStoreOptions.DiskCapacityBytes), error.Message, StringComparison.Ordinal);
            AssertEmpty(store, dir);
        }
        using (KvStore store = KvStore.Open(dir.Options() with { MaxRecordBytes = record.Length }))
            store.Put(record);
    }

    [Fact]
    public void With_eviction_off_a_full_disk_refuses_new_records_and_keeps_the_old()
    {
        using var dir = new StoreDirectory();
        byte[][] records = [.. Enumerable.Range(0, 9).Select(id => TestRecords.Create(id, tokens: 10, contentSeed: id))];
        long frame = SegmentFormat.RecordFrameSize(records[0].Length);
        Assert.All(records, r => Assert.Equal(frame, SegmentFormat.RecordFrameSize(r.Length)));
        using KvStore store = KvStore.Open(dir.Options(disk: 8 * frame) with { Eviction = EvictionPolicy.None });
        for (int id = 0; id < 8; id++)
            store.Put(records[id]);

        KvStoreException error = Assert.Throws<KvStoreException>(() => store.Put(records[8]));
        Assert.Equal(StoreErrorKind.Full, error.Kind);
        Assert.Contains(nameof(KvStoreOptions.DiskCapacityBytes), error.Message, StringComparison.Ordinal);
        Assert.False(store.Contains(TestRecords.Key(8)));
        Assert.Equal(8, store.GetStatistics().Entries);
        Assert.Equal(0, store.GetStatistics().Evictions);
        for (int id = 0; id < 8; id++)
        {
            Assert.True(store.TryRead(TestRecords.Key(id), out byte[]? bytes));
            Assert.Equal(records[id], bytes);
        }

        // Replacing a record with one of the same frame size fits; so does a new one once a delete makes room.
        byte[] replacement = TestRecords.Create(3, tokens: 10, contentSeed: 99);
        store.Put(replacement);
        Assert.True(store.Delete(TestRecords.Key(0)));
        store.Put(records[8]);
        Assert.True(store.TryRead(TestRecords.Key(3), out byte[]? replaced));
        Assert.Equal(replacement, replaced);
        Assert.True(store.Contains(TestRecords.Key(8)));
        Assert.Equal(8 * frame, store.GetStatistics().LiveBytes);
    }

    private static void AssertEmpty(KvStore store, StoreDirectory dir)
    {
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(0, stats.Entries);
        Assert.Equal(0, stats.Puts);
        Assert.Equal(0, stats.BytesWritten);
        Assert.Empty(store.Enumerate());
        Assert.Empty(dir.SegmentFiles());
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        byte[] copy = (byte[])bytes.Clone();
        copy[at] ^= 0x10;
        return copy;
    }
}
