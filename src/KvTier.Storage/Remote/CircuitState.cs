namespace KvTier.Storage.Remote;

/// <summary>The state of a remote tier's circuit breaker (KvTier.Remote's <c>RemoteTier</c>, KvTier.Redis's <c>RedisTier</c>).</summary>
public enum CircuitState
{
    /// <summary>Calls go to the server.</summary>
    Closed,

    /// <summary>Too many consecutive failures: calls are misses at once, without touching the network, until the cool-down ends.</summary>
    Open,

    /// <summary>The cool-down ended: one trial call goes to the remote; its success closes the circuit, its failure opens it again.</summary>
    HalfOpen,
}
