namespace KvTier.Remote;

/// <summary>Options of a <see cref="RemoteTier"/>. Validated when the tier is created, with messages that name the option.</summary>
public sealed record RemoteTierOptions
{
    /// <summary>The server and how to connect to it. Required. Its timeouts are capped by <see cref="CallTimeout"/>.</summary>
    public required KvCacheClientOptions Client { get; init; }

    /// <summary>
    /// The longest one tier call may take, all retries and reconnecting included: after it the call is a miss
    /// (<c>null</c>, <c>false</c>, 0). Default: 2 s. Bounds how long the engine can wait on a slow or dead server;
    /// too short turns large gets over slow links into misses.
    /// </summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How many times a call is retried after a transient failure (refused, lost, timed out, busy), within <see cref="CallTimeout"/>. Default: 2.</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>The delay before the first retry; each further retry doubles it, up to <see cref="RetryMaxDelay"/>, with ±50 % random jitter. Default: 50 ms.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The longest delay between retries. Default: 1 s.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Consecutive failed calls (after their retries) that open the circuit breaker. Default: 5. While it is open every
    /// call is an immediate miss, so that a dead server costs the engine nothing.
    /// </summary>
    public int CircuitBreakerThreshold { get; init; } = 5;

    /// <summary>How long the circuit stays open before one trial call is let through (half-open). Default: 10 s.</summary>
    public TimeSpan CircuitBreakerCooldown { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>What a put does when the server cannot take the record now. Default: <see cref="RemotePutPolicy.Drop"/>.</summary>
    public RemotePutPolicy PutPolicy { get; init; } = RemotePutPolicy.Drop;

    /// <summary>With <see cref="RemotePutPolicy.Queue"/>: the most records queued. Default: 256. The oldest are dropped beyond it.</summary>
    public int PutQueueCapacity { get; init; } = 256;

    /// <summary>With <see cref="RemotePutPolicy.Queue"/>: the most bytes of records queued. Default: 256 MiB. The oldest are dropped beyond it.</summary>
    public long PutQueueMaxBytes { get; init; } = 256L << 20;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Client, nameof(Client));
        Client.Validate();
        if (CallTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(CallTimeout), CallTimeout, $"{nameof(CallTimeout)} must be positive.");
        if (MaxRetries is < 0 or > 100)
            throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, $"{nameof(MaxRetries)} must be between 0 and 100.");
        if (RetryBaseDelay < TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
            throw new ArgumentOutOfRangeException(nameof(RetryBaseDelay), RetryBaseDelay, $"{nameof(RetryBaseDelay)} must be at least 0 and at most {nameof(RetryMaxDelay)} ({RetryMaxDelay}).");
        if (CircuitBreakerThreshold < 1)
            throw new ArgumentOutOfRangeException(nameof(CircuitBreakerThreshold), CircuitBreakerThreshold, $"{nameof(CircuitBreakerThreshold)} must be at least 1.");
        if (CircuitBreakerCooldown <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(CircuitBreakerCooldown), CircuitBreakerCooldown, $"{nameof(CircuitBreakerCooldown)} must be positive.");
        if (PutQueueCapacity < 1)
            throw new ArgumentOutOfRangeException(nameof(PutQueueCapacity), PutQueueCapacity, $"{nameof(PutQueueCapacity)} must be at least 1.");
        if (PutQueueMaxBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(PutQueueMaxBytes), PutQueueMaxBytes, $"{nameof(PutQueueMaxBytes)} must be at least 1.");
    }
}
