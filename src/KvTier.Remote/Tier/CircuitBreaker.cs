namespace KvTier.Remote.Tier;

// Consecutive-failure circuit breaker. Thread-safe: all state is guarded by _lock; TimeProvider gives testable time.
internal sealed class CircuitBreaker(int threshold, TimeSpan cooldown, TimeProvider time)
{
    private readonly Lock _lock = new();
    private int _failures;
    private long _openedAt;
    private CircuitState _state = CircuitState.Closed;
    private bool _trialInFlight;

    public CircuitState State
    {
        get
        {
            lock (_lock)
                return _state == CircuitState.Open && CooledDown() ? CircuitState.HalfOpen : _state;
        }
    }

    /// <summary>Whether a call may go to the server now; in half-open state only one trial at a time.</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            if (_state == CircuitState.Closed)
                return true;
            if (_state == CircuitState.Open && CooledDown())
                _state = CircuitState.HalfOpen;
            if (_state == CircuitState.HalfOpen && !_trialInFlight)
            {
                _trialInFlight = true;
                return true;
            }
            return false;
        }
    }

    public void OnSuccess()
    {
        lock (_lock)
        {
            _failures = 0;
            _trialInFlight = false;
            _state = CircuitState.Closed;
        }
    }

    public void OnFailure()
    {
        lock (_lock)
        {
            _trialInFlight = false;
            if (_state == CircuitState.HalfOpen || ++_failures >= threshold)
            {
                _state = CircuitState.Open;
                _openedAt = time.GetTimestamp();
            }
        }
    }

    private bool CooledDown() => time.GetElapsedTime(_openedAt) >= cooldown;
}
