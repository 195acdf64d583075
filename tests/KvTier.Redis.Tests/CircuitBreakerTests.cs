using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>The breaker's states, without Redis.</summary>
public sealed class CircuitBreakerTests
{
    [Fact]
    public void Opens_after_the_threshold_of_consecutive_failures_only()
    {
        var breaker = new CircuitBreaker(threshold: 3, TimeSpan.FromHours(1));
        for (int i = 0; i < 2; i++)
        {
            Assert.True(breaker.TryEnter(out bool probe));
            Assert.False(probe);
            breaker.OnFailure(probe);
        }
        breaker.OnSuccess(probe: false); // A success resets the count.
        for (int i = 0; i < 2; i++)
            breaker.OnFailure(probe: false);
        Assert.False(breaker.IsOpen);
        breaker.OnFailure(probe: false);
        Assert.True(breaker.IsOpen);
        Assert.Equal(1, breaker.Openings);
        Assert.False(breaker.TryEnter(out _));
    }

    [Fact]
    public async Task After_the_cooldown_one_probe_at_a_time_closes_or_reopens_it()
    {
        var breaker = new CircuitBreaker(threshold: 1, TimeSpan.FromMilliseconds(50));
        breaker.OnFailure(probe: false);
        Assert.True(breaker.IsOpen);
        await Task.Delay(200);

        Assert.True(breaker.TryEnter(out bool probe));
        Assert.True(probe);
        Assert.False(breaker.TryEnter(out _)); // Only one probe in flight.
        breaker.OnFailure(probe);               // The probe failed: open again, for a new cool-down.
        Assert.True(breaker.IsOpen);
        Assert.Equal(2, breaker.Openings);
        Assert.False(breaker.TryEnter(out _));

        await Task.Delay(200);
        Assert.True(breaker.TryEnter(out probe));
        Assert.True(probe);
        breaker.OnSuccess(probe);
        Assert.False(breaker.IsOpen);
        Assert.True(breaker.TryEnter(out probe));
        Assert.False(probe);
    }

    [Fact]
    public async Task An_abandoned_probe_gives_its_turn_back()
    {
        var breaker = new CircuitBreaker(threshold: 1, TimeSpan.FromMilliseconds(20));
        breaker.OnFailure(probe: false);
        await Task.Delay(100);
        Assert.True(breaker.TryEnter(out bool probe));
        breaker.OnAbandoned(probe);
        Assert.True(breaker.TryEnter(out probe));
        Assert.True(probe);
    }
}
