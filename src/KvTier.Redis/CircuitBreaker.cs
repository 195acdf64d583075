using System.Diagnostics;

namespace KvTier.Redis;

/// <summary>
/// Consecutive-failure circuit breaker: closed until <c>threshold</c> calls in a row fail, then open (calls are refused
/// without touching the network) for a cool-down, then half-open: one call at a time probes, and its outcome closes or
/// reopens the circuit.
/// </summary>
/// <remarks>
/// Lock-free; every member may run concurrently. Races only blur counts by a call or two (two failures may both
/// open the circuit; the later cool-down wins), never let more than one probe through at a time.
/// </remarks>
internal sealed class CircuitBreaker
{
    private readonly int _threshold;
    private readonly long _cooldownTicks;
    private int _consecutiveFailures;
    private long _openUntil; // Stopwatch timestamp; 0 = closed.
    private int _probing;    // 1 while a half-open probe is in flight.
    private long _openings;

    public CircuitBreaker(int threshold, TimeSpan cooldown)
    {
        _threshold = threshold;
        _cooldownTicks = Math.Max(1, (long)(cooldown.TotalSeconds * Stopwatch.Frequency));
    }

    /// <summary>True while calls are being refused (open, cool-down not over, or a probe in flight).</summary>
    public bool IsOpen => Volatile.Read(ref _openUntil) != 0;

    /// <summary>How many times the circuit has opened.</summary>
    public long Openings => Interlocked.Read(ref _openings);

    /// <summary>Whether a call may go to Redis now; <paramref name="probe"/> is true for the one half-open probe, which must report back.</summary>
    public bool TryEnter(out bool probe)
    {
        probe = false;
        long until = Volatile.Read(ref _openUntil);
        if (until == 0)
            return true;
        if (Stopwatch.GetTimestamp() < until)
            return false;
        if (Interlocked.CompareExchange(ref _probing, 1, 0) != 0)
            return false;
        probe = true;
        return true;
    }

    /// <summary>A call that entered reached Redis and got an answer.</summary>
    public void OnSuccess(bool probe)
    {
        if (Volatile.Read(ref _consecutiveFailures) != 0)
            Volatile.Write(ref _consecutiveFailures, 0);
        if (Volatile.Read(ref _openUntil) != 0)
            Volatile.Write(ref _openUntil, 0);
        if (probe)
            Volatile.Write(ref _probing, 0);
    }

    /// <summary>A call that entered could not reach Redis, or timed out.</summary>
    public void OnFailure(bool probe)
    {
        int failures = Interlocked.Increment(ref _consecutiveFailures);
        if (probe || (failures >= _threshold && Volatile.Read(ref _openUntil) == 0))
        {
            Volatile.Write(ref _openUntil, Stopwatch.GetTimestamp() + _cooldownTicks);
            Interlocked.Increment(ref _openings);
        }
        if (probe)
            Volatile.Write(ref _probing, 0);
    }

    /// <summary>A call that entered ended without an outcome (the caller cancelled it): a probe gives its turn back.</summary>
    public void OnAbandoned(bool probe)
    {
        if (probe)
            Volatile.Write(ref _probing, 0);
    }
}
