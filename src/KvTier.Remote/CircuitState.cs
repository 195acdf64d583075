namespace KvTier.Remote;

/// <summary>The state of the remote tier's circuit breaker.</summary>
public enum CircuitState
{
    /// <summary>Calls go to the server.</summary>
    Closed,

    /// <summary>Too many consecutive failures: calls are misses at once, without touching the network, until the cool-down ends.</summary>
    Open,

    /// <summary>The cool-down ended: one trial call goes to the server; its success closes the circuit, its failure opens it again.</summary>
    HalfOpen,
}
