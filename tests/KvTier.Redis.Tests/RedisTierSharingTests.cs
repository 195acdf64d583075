using KvTier.Keys;
using KvTier.Redis.Tests.Infrastructure;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>Two tier instances — two inference instances — sharing records through one Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTierSharingTests(RedisFixture redis)
{
    [RequiresRedisFact]
    public async Task What_one_client_puts_the_other_gets_bit_exact()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier writer = await RedisTier.ConnectAsync(redis.Options(ns));
        await using RedisTier reader = await RedisTier.ConnectAsync(redis.Options(ns));

        byte[] small = TestRecords.Create(TestRecords.Key(1), tokens: 4, contentSeed: 1);
        byte[] large = TestRecords.Create(TestRecords.Key(2), tokens: 32768, contentSeed: 2); // 4 MiB of KV
        Assert.True(await writer.PutAsync(small));
        Assert.True(await writer.PutAsync(large));

        Assert.Equal(small, await reader.TryGetAsync(TestRecords.Key(1)));
        Assert.Equal(large, await reader.TryGetAsync(TestRecords.Key(2)));
        Assert.Null(await reader.TryGetAsync(TestRecords.Key(3)));

        RedisTierStatistics stats = reader.GetStatistics();
        Assert.Equal(2, stats.Hits);
        Assert.Equal(1, stats.Misses);
        Assert.Equal(0, stats.CorruptRecords);
        Assert.Equal(small.Length + large.Length, stats.BytesRead);
        Assert.Equal(small.Length + large.Length, writer.GetStatistics().BytesWritten);
        Assert.Equal(2, writer.GetStatistics().PutsStored);
    }

    [RequiresRedisFact]
    public async Task Records_are_stored_under_the_namespaced_hex_key_in_a_versioned_envelope()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier tier = await RedisTier.ConnectAsync(redis.Options(ns));
        byte[] record = TestRecords.Create(TestRecords.Key(10));
        Assert.True(await tier.PutAsync(record));

        byte[]? value = await redis.Raw.StringGetAsync(RedisFixture.KeyOf(ns, TestRecords.Key(10)));
        Assert.NotNull(value);
        Assert.Equal(RawEnvelope.Wrap(record), value); // Byte for byte what format-spec/redis-tier.md says.
        Assert.Equal(-1, (long)(await redis.Raw.ExecuteAsync("PTTL", RedisFixture.KeyOf(ns, TestRecords.Key(10))))); // No TTL by default.
    }

    [RequiresRedisFact]
    public async Task Put_get_delete_and_longest_prefix()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier a = await RedisTier.ConnectAsync(redis.Options(ns));
        await using RedisTier b = await RedisTier.ConnectAsync(redis.Options(ns));
        ChunkKey[] keys = [.. Enumerable.Range(100, 6).Select(i => TestRecords.Key(i))];

        Assert.Equal(0, await b.LongestPrefixAsync(keys));
        Assert.Equal(0, await b.LongestPrefixAsync([]));
        for (int i = 0; i < 4; i++)
            Assert.True(await a.PutAsync(TestRecords.Create(keys[i], contentSeed: i)));
        Assert.True(await a.PutAsync(TestRecords.Create(keys[5]))); // A gap at 4: 5 does not extend the prefix.

        Assert.Equal(4, await b.LongestPrefixAsync(keys));
        Assert.Equal(2, await b.LongestPrefixAsync(keys[..2]));
        Assert.Equal(0, await b.LongestPrefixAsync(keys[4..]));

        Assert.True(await b.DeleteAsync(keys[1]));
        Assert.False(await b.DeleteAsync(keys[1]));
        Assert.False(await a.DeleteAsync(keys[4]));
        Assert.Null(await a.TryGetAsync(keys[1]));
        Assert.Equal(1, await a.LongestPrefixAsync(keys));
        Assert.Equal(TestRecords.Create(keys[0], contentSeed: 0), await a.TryGetAsync(keys[0]));

        // A second put of the same key replaces the record.
        byte[] replacement = TestRecords.Create(keys[0], tokens: 8, contentSeed: 77);
        Assert.True(await b.PutAsync(replacement));
        Assert.Equal(replacement, await a.TryGetAsync(keys[0]));
    }

    [RequiresRedisFact]
    public async Task Longest_prefix_asks_about_at_most_the_configured_number_of_keys()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier tier = await RedisTier.ConnectAsync(redis.Options(ns));
        await using RedisTier bounded = await RedisTier.ConnectAsync(new RedisTierOptions
        {
            Endpoints = [redis.Endpoint], Namespace = ns, MaxLongestPrefixKeys = 3, OperationTimeout = TimeSpan.FromSeconds(5),
        });
        ChunkKey[] keys = [.. Enumerable.Range(200, 5).Select(i => TestRecords.Key(i))];
        foreach (ChunkKey key in keys)
            Assert.True(await tier.PutAsync(TestRecords.Create(key)));
        Assert.Equal(5, await tier.LongestPrefixAsync(keys));
        Assert.Equal(3, await bounded.LongestPrefixAsync(keys));
    }

    [RequiresRedisFact]
    public async Task Namespaces_do_not_see_each_other()
    {
        string nsA = RedisFixture.NewNamespace(), nsB = RedisFixture.NewNamespace();
        await using RedisTier a = await RedisTier.ConnectAsync(redis.Options(nsA));
        await using RedisTier b = await RedisTier.ConnectAsync(redis.Options(nsB));
        ChunkKey key = TestRecords.Key(300);
        Assert.True(await a.PutAsync(TestRecords.Create(key, contentSeed: 1)));

        Assert.Null(await b.TryGetAsync(key));
        Assert.Equal(0, await b.LongestPrefixAsync([key]));
        Assert.False(await b.DeleteAsync(key));
        Assert.Equal(TestRecords.Create(key, contentSeed: 1), await a.TryGetAsync(key)); // b's delete did not touch a's record.

        Assert.True(await b.PutAsync(TestRecords.Create(key, contentSeed: 2)));
        Assert.Equal(TestRecords.Create(key, contentSeed: 1), await a.TryGetAsync(key));
        Assert.Equal(TestRecords.Create(key, contentSeed: 2), await b.TryGetAsync(key));
    }

    [RequiresRedisFact]
    public async Task Many_threads_on_two_clients_share_without_loss()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier a = await RedisTier.ConnectAsync(redis.Options(ns));
        await using RedisTier b = await RedisTier.ConnectAsync(redis.Options(ns));
        const int Records = 200;
        var records = new byte[Records][];
        for (int i = 0; i < Records; i++)
            records[i] = TestRecords.Create(TestRecords.Key(1000 + i), tokens: 1 + i % 16, contentSeed: i);

        await Parallel.ForAsync(0, Records, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            Assert.True(await (i % 2 == 0 ? a : b).PutAsync(records[i], ct)));
        var mismatches = 0;
        await Parallel.ForAsync(0, Records, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            byte[]? got = await (i % 2 == 0 ? b : a).TryGetAsync(TestRecords.Key(1000 + i), ct);
            if (got is null || !got.AsSpan().SequenceEqual(records[i]))
                Interlocked.Increment(ref mismatches);
        });
        Assert.Equal(0, mismatches);
        Assert.Equal(Records, a.GetStatistics().Hits + b.GetStatistics().Hits);
    }

    [RequiresRedisFact]
    public async Task Caller_cancellation_throws_and_a_disposed_tier_refuses_calls()
    {
        string ns = RedisFixture.NewNamespace();
        RedisTier tier = await RedisTier.ConnectAsync(redis.Options(ns));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tier.TryGetAsync(TestRecords.Key(1), cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tier.PutAsync(TestRecords.Create(1), cancelled.Token).AsTask());
        await Assert.ThrowsAsync<ArgumentNullException>(() => tier.LongestPrefixAsync(null!).AsTask());

        await tier.DisposeAsync();
        await tier.DisposeAsync(); // Twice is fine.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => tier.TryGetAsync(TestRecords.Key(1)).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => tier.PutAsync(TestRecords.Create(1)).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => tier.LongestPrefixAsync([TestRecords.Key(1)]).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => tier.DeleteAsync(TestRecords.Key(1)).AsTask());
    }
}
