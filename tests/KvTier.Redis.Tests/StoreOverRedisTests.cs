using System.Diagnostics;
using KvTier.Keys;
using KvTier.Redis.Tests.Infrastructure;
using KvTier.Storage;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>Two stores (two inference instances, two local directories) sharing through a RedisTier as their remote tier.</summary>
[Collection(RedisCollection.Name)]
public sealed class StoreOverRedisTests(RedisFixture redis) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kvtier-redis-store-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private KvStoreOptions StoreOptions(string name, RedisTier tier) => new()
    {
        Directory = Path.Combine(_root, name),
        SegmentSizeBytes = KvStoreOptions.MiB,
        DiskCapacityBytes = 64 * KvStoreOptions.MiB,
        MemoryCapacityBytes = 0,
        RemoteTier = tier,
    };

    [RequiresRedisFact]
    public async Task What_one_store_puts_another_store_gets_through_redis_bit_exact()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier tierA = await RedisTier.ConnectAsync(redis.Options(ns));
        await using RedisTier tierB = await RedisTier.ConnectAsync(redis.Options(ns));
        using KvStore a = KvStore.Open(StoreOptions("a", tierA));
        using KvStore b = KvStore.Open(StoreOptions("b", tierB));
        ChunkKey[] keys = [TestRecords.Key(1), TestRecords.Key(2), TestRecords.Key(3)];
        byte[][] records = [.. keys.Select((k, i) => TestRecords.Create(k, tokens: 64, contentSeed: i))];
        foreach (byte[] record in records[..2])
            a.Put(record);

        // Written behind: once flushed, Redis has acknowledged both.
        await a.FlushRemoteAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, a.GetStatistics().RemoteWrites);
        Assert.Equal(2, tierA.GetStatistics().PutsStored);
        Assert.Equal(2, await b.LongestPrefixAsync(keys));
        for (int i = 0; i < 2; i++)
        {
            using RecordLease? lease = await b.GetAsync(keys[i]);
            Assert.NotNull(lease);
            Assert.Equal(records[i], lease.Bytes.ToArray());
        }
        Assert.Null(await b.GetAsync(keys[2]));
        Assert.Equal(2, tierB.GetStatistics().Hits);
        Assert.True(b.TryGet(keys[0], out RecordLease? local)); // Kept locally after the remote hit.
        local.Dispose();
    }

    [RequiresRedisServerFact]
    public async Task A_dead_redis_never_delays_a_store_beyond_the_timeout()
    {
        using RedisServerProcess server = RedisServerProcess.Start();
        await using RedisTier tier = await RedisTier.ConnectAsync(new RedisTierOptions
        {
            Endpoints = [server.Endpoint],
            OperationTimeout = TimeSpan.FromMilliseconds(250),
            CircuitBreakerFailureThreshold = 2,
        });
        using KvStore store = KvStore.Open(StoreOptions("dead", tier));
        server.Kill();

        var clock = Stopwatch.StartNew();
        store.Put(TestRecords.Create(TestRecords.Key(10))); // Local durability does not wait for Redis.
        Assert.Null(await store.GetAsync(TestRecords.Key(11)));
        Assert.Equal(0, await store.LongestPrefixAsync([TestRecords.Key(11), TestRecords.Key(12)]));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the store waited {clock.Elapsed} on a dead Redis");
        Assert.True(store.TryGet(TestRecords.Key(10), out RecordLease? lease));
        lease.Dispose();
    }
}
