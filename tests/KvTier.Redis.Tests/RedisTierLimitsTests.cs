using KvTier.Redis.Tests.Infrastructure;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>What a put refuses: records over the size limit (false, nothing sent) and bytes that are not a record (ArgumentException, nothing sent).</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTierLimitsTests(RedisFixture redis)
{
    [RequiresRedisFact]
    public async Task A_record_over_the_limit_is_dropped_without_being_sent()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier tier = await RedisTier.ConnectAsync(redis.Options(ns, maxRecordBytes: 4096));
        byte[] big = TestRecords.Create(TestRecords.Key(1), tokens: 64);
        byte[] small = TestRecords.Create(TestRecords.Key(2), tokens: 4);
        Assert.True(big.Length > 4096 && small.Length <= 4096);

        Assert.False(await tier.PutAsync(big));
        Assert.True(await tier.PutAsync(small));

        Assert.False(await redis.Raw.KeyExistsAsync(RedisFixture.KeyOf(ns, TestRecords.Key(1))));
        RedisTierStatistics stats = tier.GetStatistics();
        Assert.Equal(1, stats.PutsTooLarge);
        Assert.Equal(1, stats.PutsDropped);
        Assert.Equal(1, stats.PutsStored);
        Assert.Equal(0, stats.Errors);
        Assert.False(stats.CircuitOpen);
    }

    [RequiresRedisFact]
    public async Task Bytes_that_are_not_a_valid_record_throw_and_nothing_is_sent()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier tier = await RedisTier.ConnectAsync(redis.Options(ns));
        byte[] record = TestRecords.Create(TestRecords.Key(7), tokens: 8);

        await Assert.ThrowsAsync<ArgumentException>(() => tier.PutAsync(new byte[100]).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => tier.PutAsync(ReadOnlyMemory<byte>.Empty).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => tier.PutAsync(record.AsMemory(0, record.Length - 1)).AsTask());
        byte[] damaged = (byte[])record.Clone();
        var last = KvTier.Format.ChunkRecord.Parse(record).Sections[^1];
        damaged[(int)last.Offset + (int)last.Length / 2] ^= 0xFF; // The header is fine, a section checksum is not.
        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(() => tier.PutAsync(damaged).AsTask());
        Assert.Contains("nothing sent", ex.Message);

        Assert.False(await redis.Raw.KeyExistsAsync(RedisFixture.KeyOf(ns, TestRecords.Key(7))));
        Assert.Equal(0, tier.GetStatistics().PutsStored + tier.GetStatistics().PutsDropped);
    }
}
