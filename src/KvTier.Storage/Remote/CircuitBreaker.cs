namespace KvTier.Storage.Remote;

/// <summary>
/// The consecutive-failure circuit breaker of the remote tiers (KvTier.Remote's <c>RemoteTier</c>, KvTier.Redis's
/// <c>RedisTier</c>): closed until <c>threshold</c> calls in a row fail; then open for <c>cooldown</c> (calls are
/// refused without touching the network, so a dead remote costs almost nothing per call); then half-open: one trial
/// call at a time, whose success closes the circuit and whose failure opens it again.
/// </summary>
/// <remarks>
/// Every member may run concurrently; <c>_lock</c> guards the state (held for a few instructions, never across I/O).
/// A call that entered must end with exactly one of <see cref="OnSuccess"/>, <see cref="OnFailure"/> or
/// <see cref="OnAbandoned"/>, passing back the <c>trial</c> flag <see cref="TryEnter"/> gave it; otherwise a half-open
/// circuit would wait for that trial forever. <see cref="TimeProvider"/> makes the cool-down testable.
/// </remarks>
internal sealed class CircuitBreaker
{
    private readonly Lock _lock = new();
    private readonly int _threshold;
    private readonly TimeSpan _cooldown;
    private readonly TimeProvider _time;
    private int _failures;          // consecutive
    private long _openedAt;         // _time timestamp of the last opening
    private CircuitState _state = CircuitState.Closed;
    private bool _trialInFlight;
    private long _openings;

    /// <param name="threshold">Consecutive failures that open the circuit (at least 1).</param>
    /// <param name="cooldown">How long it stays open before a trial call (positive).</param>
    /// <param name="time">The clock; default <see cref="TimeProvider.System"/>.</param>
    public CircuitBreaker(int threshold, TimeSpan cooldown, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(cooldown, TimeSpan.Zero);
        _threshold = threshold;
        _cooldown = cooldown;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The state now: an open circuit whose cool-down is over reads as half-open.</summary>
    public CircuitState State
    {
        get
        {
            lock (_lock)
                return _state == CircuitState.Open && CooledDown() ? CircuitState.HalfOpen : _state;
        }
    }

    /// <summary>True while calls are refused or limited to one trial (open or half-open).</summary>
    public bool IsOpen => State != CircuitState.Closed;

    /// <summary>How many times the circuit has opened.</summary>
    public long Openings => Interlocked.Read(ref _openings);

    /// <summary>
    /// Whether a call may go to the remote now. <paramref name="trial"/> is true for the one half-open trial call; pass it
    /// back to the outcome method.
    /// </summary>
    public bool TryEnter(out bool trial)
    {
        trial = false;
        lock (_lock)
        {
            if (_state == CircuitState.Closed)
                return true;
            if (_state == CircuitState.Open && CooledDown())
                _state = CircuitState.HalfOpen;
            if (_state == CircuitState.HalfOpen && !_trialInFlight)
            {
                _trialInFlight = true;
                trial = true;
                return true;
            }
            return false;
        }
    }

    /// <summary>A call that entered reached the remote and got an answer (a miss and a refusal are answers too).</summary>
    public void OnSuccess(bool trial)
    {
        lock (_lock)
        {
            _failures = 0;
            if (trial)
                _trialInFlight = false;
            _state = CircuitState.Closed;
        }
    }

    /// <summary>A call that entered could not reach the remote, or timed out.</summary>
    public void OnFailure(bool trial)
    {
        lock (_lock)
        {
            if (trial)
                _trialInFlight = false;
            _failures++;
            if (trial || _state == CircuitState.HalfOpen || (_state == CircuitState.Closed && _failures >= _threshold))
            {
                if (_state != CircuitState.Open || trial)
                    Interlocked.Increment(ref _openings);
                _state = CircuitState.Open;
                _openedAt = _time.GetTimestamp();
            }
        }
    }

    /// <summary>A call that entered ended without an outcome (its caller cancelled it): a trial gives its turn back.</summary>
    public void OnAbandoned(bool trial)
    {
        if (!trial)
            return;
        lock (_lock)
            _trialInFlight = false;
    }

    private bool CooledDown() => _time.GetElapsedTime(_openedAt) >= _cooldown;
}
