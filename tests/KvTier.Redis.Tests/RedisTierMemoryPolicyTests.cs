using KvTier.Redis.Tests.Infrastructure;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>A full Redis under <c>noeviction</c> refuses writes: puts are dropped, gets keep working, the breaker stays closed.</summary>
public sealed class RedisTierMemoryPolicyTests
{
    [RequiresRedisServerFact]
    public async Task Under_noeviction_a_full_redis_drops_puts_and_still_serves_gets()
    {
        using RedisServerProcess server = RedisServerProcess.Start("--maxmemory", "2mb", "--maxmemory-policy", "noeviction");
        await using RedisTier tier = await RedisTier.ConnectAsync(new RedisTierOptions
        {
            Endpoints = [server.Endpoint],
            OperationTimeout = TimeSpan.FromSeconds(5),
            CircuitBreakerFailureThreshold = 2,
        });
        byte[] small = TestRecords.Create(TestRecords.Key(1), tokens: 4);
        Assert.True(await tier.PutAsync(small));

        int dropped = 0;
        for (int i = 0; i < 5; i++)
        {
            if (!await tier.PutAsync(TestRecords.Create(TestRecords.Key(100 + i), tokens: 16384, contentSeed: i))) // 2 MiB each
                dropped++;
        }
        Assert.True(dropped >= 4, $"only {dropped} of 5 puts over maxmemory were dropped");

        RedisTierStatistics stats = tier.GetStatistics();
        Assert.True(stats.Errors >= 4);
        Assert.Equal(0, stats.Timeouts);
        Assert.False(stats.CircuitOpen);          // OOM is an answer: the server is up.
        Assert.Equal(0, stats.CircuitOpenings);
        Assert.Equal(small, await tier.TryGetAsync(TestRecords.Key(1)));
    }
}
