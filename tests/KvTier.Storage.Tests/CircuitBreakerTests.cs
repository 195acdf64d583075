using KvTier.Storage.Remote;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>The remote tiers' circuit breaker: its states, without a remote.</summary>
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
        breaker.OnSuccess(trial: false); // A success resets the count.
        for (int i = 0; i < 2; i++)
            breaker.OnFailure(trial: false);
        Assert.False(breaker.IsOpen);
        breaker.OnFailure(trial: false);
        Assert.True(breaker.IsOpen);
        Assert.Equal(1, breaker.Openings);
        Assert.False(breaker.TryEnter(out _));
    }

    [Fact]
    public async Task After_the_cooldown_one_trial_at_a_time_closes_or_reopens_it()
    {
        var breaker = new CircuitBreaker(threshold: 1, TimeSpan.FromMilliseconds(50));
        breaker.OnFailure(trial: false);
        Assert.True(breaker.IsOpen);
        await Task.Delay(200);

        Assert.True(breaker.TryEnter(out bool probe));
        Assert.True(probe);
        Assert.False(breaker.TryEnter(out _)); // Only one trial in flight.
        breaker.OnFailure(probe);               // The trial failed: open again, for a new cool-down.
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
    public async Task An_abandoned_trial_gives_its_turn_back()
    {
        var breaker = new CircuitBreaker(threshold: 1, TimeSpan.FromMilliseconds(20));
        breaker.OnFailure(trial: false);
        await Task.Delay(100);
        Assert.True(breaker.TryEnter(out bool probe));
        breaker.OnAbandoned(probe);
        Assert.True(breaker.TryEnter(out probe));
        Assert.True(probe);
    }

    [Fact]
    public void State_reads_half_open_once_the_cooldown_is_over_and_a_late_failure_does_not_extend_it()
    {
        var time = new SteppedTime();
        var breaker = new CircuitBreaker(threshold: 2, TimeSpan.FromSeconds(10), time);
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.True(breaker.TryEnter(out bool first));
        Assert.True(breaker.TryEnter(out bool second)); // Two calls in flight when the remote dies.
        breaker.OnFailure(first);
        breaker.OnFailure(second);
        Assert.Equal(CircuitState.Open, breaker.State);
        time.Advance(TimeSpan.FromSeconds(6));
        breaker.OnFailure(trial: false); // A call that entered before the circuit opened, failing late.
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitState.HalfOpen, breaker.State); // 11 s after opening, not 5 s after the late failure.
        Assert.Equal(1, breaker.Openings);
    }

    private sealed class SteppedTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
