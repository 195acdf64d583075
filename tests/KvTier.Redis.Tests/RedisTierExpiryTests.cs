using System.Diagnostics;
using KvTier.Redis.Tests.Infrastructure;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary><see cref="RedisTierOptions.TimeToLive"/>: records expire; without it they do not.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTierExpiryTests(RedisFixture redis)
{
    [RequiresRedisFact]
    public async Task Records_expire_after_the_time_to_live()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier expiring = await RedisTier.ConnectAsync(redis.Options(ns, ttl: TimeSpan.FromMilliseconds(300)));
        await using RedisTier keeping = await RedisTier.ConnectAsync(redis.Options(ns));
        Assert.True(await expiring.PutAsync(TestRecords.Create(1)));
        Assert.True(await keeping.PutAsync(TestRecords.Create(2)));

        long pttl = (long)await redis.Raw.ExecuteAsync("PTTL", RedisFixture.KeyOf(ns, TestRecords.Key(1)));
        Assert.InRange(pttl, 1, 300); // Expired keys answer -2; this one has its TTL set by the put itself.

        var clock = Stopwatch.StartNew();
        while (await expiring.TryGetAsync(TestRecords.Key(1)) is not null)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the record did not expire within 30 s of a 300 ms TTL");
            await Task.Delay(50);
        }
        Assert.Equal(0, await keeping.LongestPrefixAsync([TestRecords.Key(1)]));
        Assert.Equal(TestRecords.Create(2), await expiring.TryGetAsync(TestRecords.Key(2))); // No TTL, still there.
        Assert.Equal(-1, (long)await redis.Raw.ExecuteAsync("PTTL", RedisFixture.KeyOf(ns, TestRecords.Key(2))));
    }
}
