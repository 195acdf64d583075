using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KvTier.Keys;
using KvTier.Storage.Remote;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>
/// The remote tier against a live, stopped, refusing and silent server: hits and misses, puts dropped or queued, the
/// circuit breaker, and never a call that outlives its timeout (generous bounds only: 10× the call timeout).
/// </summary>
public class RemoteTierTests
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task With_the_server_up_the_tier_puts_gets_looks_up_and_deletes()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using var tier = new RemoteTier(Options(fixture.ClientOptions()));
        byte[] record = TestRecords.Create(1, tokens: 32);

        Assert.True(await tier.PutAsync(record));
        Assert.Equal(record, await tier.TryGetAsync(TestRecords.Key(1)));
        Assert.Null(await tier.TryGetAsync(TestRecords.Key(2)));
        Assert.Equal(1, await tier.LongestPrefixAsync([TestRecords.Key(1), TestRecords.Key(2)]));
        Assert.True(await tier.DeleteAsync(TestRecords.Key(1)));
        Assert.Null(await tier.TryGetAsync(TestRecords.Key(1)));
        RemoteTierStatistics stats = tier.GetStatistics();
        Assert.Equal(1, stats.Hits);
        Assert.Equal(2, stats.Misses);
        Assert.Equal(CircuitState.Closed, stats.Circuit);
        Assert.StartsWith("kvtier://127.0.0.1:", tier.Name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bytes_that_are_not_a_record_are_refused_before_anything_is_sent()
    {
        await using var tier = new RemoteTier(Options(new KvCacheClientOptions { Host = "127.0.0.1", Port = 9, Secret = ServerFixture.Secret }));

        await Assert.ThrowsAsync<ArgumentException>(async () => await tier.PutAsync(new byte[100]));
        Assert.Equal(0, tier.GetStatistics().Failures);
    }

    [Fact]
    public async Task A_stopped_server_makes_gets_misses_within_the_timeout_and_opens_the_circuit()
    {
        ServerFixture fixture = ServerFixture.Start();
        await using var tier = new RemoteTier(Options(fixture.ClientOptions()) with { CircuitBreakerThreshold = 3, CircuitBreakerCooldown = TimeSpan.FromHours(1) });
        Assert.True(await tier.PutAsync(TestRecords.Create(1)));
        await fixture.DisposeAsync(); // The server stops; its port now refuses.

        for (int i = 0; i < 3; i++)
            Assert.Null(await Timed(() => tier.TryGetAsync(TestRecords.Key(1)).AsTask()));

        Assert.Equal(CircuitState.Open, tier.Circuit);
        long failures = tier.GetStatistics().Failures;
        Assert.Null(await Timed(() => tier.TryGetAsync(TestRecords.Key(1)).AsTask()));
        Assert.Equal(0, await tier.LongestPrefixAsync([TestRecords.Key(1)]));
        Assert.False(await tier.DeleteAsync(TestRecords.Key(1)));
        Assert.False(await tier.PutAsync(TestRecords.Create(2)));
        Assert.Equal(failures + 4, tier.GetStatistics().Failures);
        Assert.Equal(1, tier.GetStatistics().PutsDropped);
    }

    [Fact]
    public async Task A_server_that_accepts_but_never_answers_is_a_miss_within_the_timeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<Socket>();
        _ = Task.Run(async () =>
        {
            while (true)
                accepted.Add(await silent.AcceptSocketAsync());
        });
        int port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var tier = new RemoteTier(Options(new KvCacheClientOptions { Host = "127.0.0.1", Port = port, Secret = ServerFixture.Secret }));

        Assert.Null(await Timed(() => tier.TryGetAsync(TestRecords.Key(1)).AsTask()));
        Assert.False(await Timed(() => tier.PutAsync(TestRecords.Create(1)).AsTask()));
        Assert.Equal(0, await Timed(() => tier.LongestPrefixAsync([TestRecords.Key(1)]).AsTask()));
        Assert.True(tier.GetStatistics().Failures >= 3);
        silent.Stop();
    }

    [Fact]
    public async Task The_circuit_half_opens_after_the_cooldown_and_closes_when_the_server_is_back()
    {
        var clock = new ManualTimeProvider();
        ServerFixture fixture = ServerFixture.Start();
        int port = fixture.Port;
        await using var tier = new RemoteTier(Options(fixture.ClientOptions()) with { CircuitBreakerThreshold = 1, CircuitBreakerCooldown = TimeSpan.FromMinutes(1) }, timeProvider: clock);
        string directory = fixture.Directory;
        await fixture.Server.DisposeAsync();

        Assert.Null(await tier.TryGetAsync(TestRecords.Key(1)));
        Assert.Equal(CircuitState.Open, tier.Circuit);

        await using ServerFixture again = ServerFixture.StartOn(directory, port);
        Assert.False(await tier.PutAsync(TestRecords.Create(1))); // Still open: not even tried.
        Assert.False(again.Server.Store.Contains(TestRecords.Key(1)));
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(CircuitState.HalfOpen, tier.Circuit);
        Assert.True(await tier.PutAsync(TestRecords.Create(1)));
        Assert.Equal(CircuitState.Closed, tier.Circuit);
    }

    [Fact]
    public async Task With_the_queue_policy_puts_made_while_the_server_is_down_are_stored_when_it_is_back()
    {
        ServerFixture fixture = ServerFixture.Start();
        int port = fixture.Port;
        string directory = fixture.Directory;
        await using var tier = new RemoteTier(Options(fixture.ClientOptions()) with
        {
            PutPolicy = RemotePutPolicy.Queue, PutQueueCapacity = 2, CircuitBreakerCooldown = TimeSpan.FromMilliseconds(200),
            RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        });
        await fixture.Server.DisposeAsync();

        Assert.False(await Timed(() => tier.PutAsync(TestRecords.Create(1)).AsTask()));
        Assert.False(await Timed(() => tier.PutAsync(TestRecords.Create(2)).AsTask()));
        Assert.False(await Timed(() => tier.PutAsync(TestRecords.Create(3)).AsTask())); // Pushes record 1 out of the full queue.
        Assert.Equal(1, tier.GetStatistics().PutsDropped);

        await using ServerFixture again = ServerFixture.StartOn(directory, port);
        for (int i = 0; i < 300 && tier.GetStatistics().PutsQueued > 0; i++)
            await Task.Delay(100);

        Assert.Equal(0, tier.GetStatistics().PutsQueued);
        Assert.False(again.Server.Store.Contains(TestRecords.Key(1)));
        Assert.True(again.Server.Store.Contains(TestRecords.Key(2)));
        Assert.True(again.Server.Store.Contains(TestRecords.Key(3)));
    }

    [Fact]
    public async Task Options_are_validated_with_messages_that_name_the_option()
    {
        var client = new KvCacheClientOptions { Host = "127.0.0.1", Port = 1, Secret = ServerFixture.Secret };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RemoteTier(new RemoteTierOptions { Client = client, CircuitBreakerThreshold = 0 }));
        Assert.Contains(nameof(RemoteTierOptions.CircuitBreakerThreshold), e.Message, StringComparison.Ordinal);
        var s = Assert.Throws<ArgumentException>(() => new RemoteTier(new RemoteTierOptions { Client = client with { Secret = [1, 2, 3] } }));
        Assert.Contains(nameof(KvCacheClientOptions.Secret), s.Message, StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    private static RemoteTierOptions Options(KvCacheClientOptions client) => new()
    {
        Client = client, CallTimeout = CallTimeout, MaxRetries = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        RetryMaxDelay = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>Runs a tier call and checks that it returned within 10× the call timeout: "never hangs", not a speed test.</summary>
    private static async Task<T> Timed<T>(Func<Task<T>> call)
    {
        var watch = Stopwatch.StartNew();
        Task<T> task = call();
        Task first = await Task.WhenAny(task, Task.Delay(CallTimeout * 10));
        Assert.True(first == task, $"the call did not return within {CallTimeout * 10}");
        return await task;
    }
}
