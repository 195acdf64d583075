using System.Diagnostics;
using KvTier.Keys;
using KvTier.Redis.Tests.Infrastructure;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>
/// A dead, hung or absent Redis: every call answers a miss within a bound (10 × the operation timeout; no tighter timing
/// is asserted), nothing throws, the circuit breaker opens, and the tier recovers when Redis is back. Each test runs its
/// own redis-server process.
/// </summary>
public sealed class RedisTierOutageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan Bound = 10 * Timeout;

    private static RedisTierOptions Options(string endpoint) => new()
    {
        Endpoints = [endpoint],
        Namespace = "outage",
        OperationTimeout = Timeout,
        ConnectTimeout = TimeSpan.FromMilliseconds(500),
        CircuitBreakerFailureThreshold = 3,
        CircuitBreakerCooldown = TimeSpan.FromMilliseconds(500),
    };

    [RequiresRedisServerFact]
    public async Task Killed_redis_makes_calls_miss_quickly_and_the_tier_recovers_when_it_is_back()
    {
        using RedisServerProcess server = RedisServerProcess.Start();
        await using RedisTier tier = await RedisTier.ConnectAsync(Options(server.Endpoint));
        byte[] record = TestRecords.Create(TestRecords.Key(1));
        Assert.True(await tier.PutAsync(record));
        Assert.Equal(record, await tier.TryGetAsync(TestRecords.Key(1)));

        server.Kill();
        await AllCallsMissWithinBound(tier, record, rounds: 8);
        RedisTierStatistics down = tier.GetStatistics();
        Assert.True(down.Errors >= 3, $"errors: {down.Errors}");
        Assert.True(down.CircuitOpenings >= 1, "the circuit never opened");
        Assert.True(down.ShortCircuited >= 1, "no call was short-circuited while Redis was down");

        server.Restart(); // Same port, empty (no persistence).
        await RecoversWithin(tier, record, TimeSpan.FromSeconds(30));
        Assert.Equal(record, await tier.TryGetAsync(TestRecords.Key(1)));
        Assert.False(tier.GetStatistics().CircuitOpen);
    }

    [RequiresRedisServerFact]
    public async Task Hung_redis_makes_calls_time_out_and_the_tier_recovers_when_it_answers_again()
    {
        using RedisServerProcess server = RedisServerProcess.Start();
        await using RedisTier tier = await RedisTier.ConnectAsync(Options(server.Endpoint));
        byte[] record = TestRecords.Create(TestRecords.Key(2));
        Assert.True(await tier.PutAsync(record));

        server.Pause(); // Connections stay open; nothing answers.
        try
        {
            await AllCallsMissWithinBound(tier, record, rounds: 6);
            RedisTierStatistics hung = tier.GetStatistics();
            Assert.True(hung.Timeouts >= 1, $"no call timed out (errors {hung.Errors})");
            Assert.True(hung.CircuitOpenings >= 1, "the circuit never opened");
        }
        finally
        {
            server.Resume();
        }
        await RecoversWithin(tier, record, TimeSpan.FromSeconds(30));
        Assert.Equal(record, await tier.TryGetAsync(TestRecords.Key(2)));
    }

    [RequiresRedisServerFact]
    public async Task Redis_absent_from_the_start_costs_a_bounded_creation_and_misses()
    {
        int port;
        using (RedisServerProcess probe = RedisServerProcess.Start())
            port = probe.Port; // A port that was free a moment ago and now has nothing listening.
        var clock = Stopwatch.StartNew();
        await using RedisTier tier = await RedisTier.ConnectAsync(Options($"127.0.0.1:{port}"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"creation took {clock.Elapsed}");
        await AllCallsMissWithinBound(tier, TestRecords.Create(3), rounds: 6);
        Assert.True(tier.GetStatistics().CircuitOpenings >= 1);
    }

    private static async Task AllCallsMissWithinBound(RedisTier tier, byte[] record, int rounds)
    {
        ChunkKey key = TestRecords.Key(1);
        for (int i = 0; i < rounds; i++)
        {
            Assert.Null(await Bounded(() => tier.TryGetAsync(key).AsTask()));
            Assert.False(await Bounded(() => tier.PutAsync(record).AsTask()));
            Assert.Equal(0, await Bounded(() => tier.LongestPrefixAsync([key, TestRecords.Key(2)]).AsTask()));
            Assert.False(await Bounded(() => tier.DeleteAsync(key).AsTask()));
        }
    }

    private static async Task<T> Bounded<T>(Func<Task<T>> call)
    {
        var clock = Stopwatch.StartNew();
        T result = await call();
        Assert.True(clock.Elapsed < Bound, $"a call took {clock.Elapsed.TotalMilliseconds:F0} ms; the bound is {Bound.TotalMilliseconds:F0} ms");
        return result;
    }

    private static async Task RecoversWithin(RedisTier tier, byte[] record, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!await Bounded(() => tier.PutAsync(record).AsTask()))
        {
            Assert.True(clock.Elapsed < limit, $"the tier did not recover within {limit} of Redis coming back: {tier.GetStatistics()}");
            await Task.Delay(100);
        }
    }
}
