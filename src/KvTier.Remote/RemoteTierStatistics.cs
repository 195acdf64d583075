using KvTier.Storage.Remote;

namespace KvTier.Remote;

/// <summary>Counters of a <see cref="RemoteTier"/> since it was created.</summary>
public sealed record RemoteTierStatistics
{
    /// <summary>Gets that returned a verified record.</summary>
    public long Hits { get; init; }

    /// <summary>Gets the server answered with "not stored".</summary>
    public long Misses { get; init; }

    /// <summary>Calls that failed (after retries), timed out, or were skipped because the circuit was open.</summary>
    public long Failures { get; init; }

    /// <summary>Records that failed their checks on arrival (counted as misses to the caller).</summary>
    public long CorruptionEvents { get; init; }

    /// <summary>Puts the server acknowledged.</summary>
    public long PutsStored { get; init; }

    /// <summary>Puts dropped (server unavailable with <see cref="RemotePutPolicy.Drop"/>, refused, or pushed out of a full queue).</summary>
    public long PutsDropped { get; init; }

    /// <summary>Records waiting in the put queue now.</summary>
    public long PutsQueued { get; init; }

    /// <summary>The circuit breaker's state now.</summary>
    public CircuitState Circuit { get; init; }
}
