using KvTier.Keys;
using KvTier.Redis.Tests.Infrastructure;
using KvTier.Testing.Records;
using StackExchange.Redis;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>The tier against a real three-node Redis Cluster: records spread over the nodes' slots and every operation still works.</summary>
public sealed class RedisTierClusterTests
{
    [RequiresRedisServerFact]
    public async Task Two_clients_share_through_a_cluster_and_lookups_span_all_nodes()
    {
        using RedisClusterProcess cluster = RedisClusterProcess.Start();
        var options = new RedisTierOptions
        {
            Endpoints = [cluster.Endpoints[0]], // One seed: the client discovers the other nodes.
            Namespace = "cluster",
            OperationTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        await using RedisTier a = await RedisTier.ConnectAsync(options);
        await using RedisTier b = await RedisTier.ConnectAsync(options);

        ChunkKey[] keys = [.. Enumerable.Range(0, 64).Select(i => TestRecords.Key(5000 + i))];
        byte[][] records = [.. keys.Select((k, i) => TestRecords.Create(k, tokens: 1 + i % 8, contentSeed: i))];
        foreach (byte[] record in records)
            Assert.True(await a.PutAsync(record));

        Assert.Equal(keys.Length, await b.LongestPrefixAsync(keys)); // Keys in many slots: no CROSSSLOT.
        for (int i = 0; i < keys.Length; i++)
            Assert.Equal(records[i], await b.TryGetAsync(keys[i]));
        Assert.True(await b.DeleteAsync(keys[10]));
        Assert.Equal(10, await a.LongestPrefixAsync(keys));

        // The records really are spread: every node holds some of them.
        await using ConnectionMultiplexer raw = await ConnectionMultiplexer.ConnectAsync(string.Join(',', cluster.Endpoints));
        foreach (string endpoint in cluster.Endpoints)
        {
            long held = 0;
            await foreach (RedisKey _ in raw.GetServer(endpoint).KeysAsync(pattern: "cluster:rec:*"))
                held++;
            Assert.True(held > 0, $"node {endpoint} holds none of the records");
        }

        // A corrupt value on whichever node owns it is a miss and is deleted there.
        RedisKey damaged = RedisFixture.KeyOf("cluster", keys[20]);
        Assert.True(await raw.GetDatabase().StringSetAsync(damaged, RawEnvelope.Wrap(records[21])));
        Assert.Null(await b.TryGetAsync(keys[20]));
        Assert.Equal(1, b.GetStatistics().CorruptRecordsDeleted);
        Assert.False(await raw.GetDatabase().KeyExistsAsync(damaged));
        Assert.Equal(0, a.GetStatistics().Errors + b.GetStatistics().Errors);
    }
}
