using KvTier.Remote;

namespace KvTier.Hosting;

/// <summary>
/// A <c>kvtier serve</c> server as the store's remote tier (<see cref="RemoteTier"/>), in a form configuration can bind:
/// the shared secret comes from <see cref="TokenFile"/> rather than from configuration. Maps to
/// <see cref="RemoteTierOptions"/> and <see cref="KvCacheClientOptions"/>, whose defaults it takes.
/// </summary>
public sealed class RemoteServerOptions
{
    private static readonly KvCacheClientOptions ClientDefaults = new() { Host = "localhost", Port = 1, Secret = [] };
    private static readonly RemoteTierOptions TierDefaults = new() { Client = ClientDefaults };

    /// <summary>The server's host name or address. Required.</summary>
    public string Host { get; set; } = "";

    /// <summary>The server's TCP port, 1 – 65535. Required.</summary>
    public int Port { get; set; }

    /// <summary>
    /// A file holding the shared token (16 – 4096 bytes, surrounding whitespace ignored), read when the tier is
    /// created; the secret itself never goes into configuration. Required.
    /// </summary>
    public string TokenFile { get; set; } = "";

    /// <summary>Speak TLS (<see cref="KvCacheClientOptions.UseTls"/>). Default: false; must match the server.</summary>
    public bool UseTls { get; set; } = ClientDefaults.UseTls;

    /// <summary>The name the server's certificate must carry (<see cref="KvCacheClientOptions.TlsTargetHost"/>). Default: <see cref="Host"/>.</summary>
    public string? TlsTargetHost { get; set; }

    /// <summary>Check the server certificate's chain and name (<see cref="KvCacheClientOptions.ValidateServerCertificate"/>). Default: true.</summary>
    public bool ValidateServerCertificate { get; set; } = ClientDefaults.ValidateServerCertificate;

    /// <summary>Accept exactly the certificate with this SHA-256 fingerprint (<see cref="KvCacheClientOptions.PinnedCertificateSha256"/>). Default: none.</summary>
    public string? PinnedCertificateSha256 { get; set; }

    /// <summary>How long connecting may take (<see cref="KvCacheClientOptions.ConnectTimeout"/>, capped by <see cref="CallTimeout"/>). Default: 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = ClientDefaults.ConnectTimeout;

    /// <summary>How long one operation may take (<see cref="KvCacheClientOptions.RequestTimeout"/>, capped by <see cref="CallTimeout"/>). Default: 30 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = ClientDefaults.RequestTimeout;

    /// <summary>
    /// The longest one tier call may take, retries included (<see cref="RemoteTierOptions.CallTimeout"/>); after it the
    /// call is a miss. Default: 2 s. Too short turns large gets over slow links into misses.
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TierDefaults.CallTimeout;

    /// <summary>Retries after a transient failure, within <see cref="CallTimeout"/> (<see cref="RemoteTierOptions.MaxRetries"/>). Default: 2.</summary>
    public int MaxRetries { get; set; } = TierDefaults.MaxRetries;

    /// <summary>Delay before the first retry, doubled per retry with jitter (<see cref="RemoteTierOptions.RetryBaseDelay"/>). Default: 50 ms.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TierDefaults.RetryBaseDelay;

    /// <summary>The longest delay between retries (<see cref="RemoteTierOptions.RetryMaxDelay"/>). Default: 1 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TierDefaults.RetryMaxDelay;

    /// <summary>Consecutive failed calls that open the circuit breaker (<see cref="RemoteTierOptions.CircuitBreakerThreshold"/>). Default: 5.</summary>
    public int CircuitBreakerThreshold { get; set; } = TierDefaults.CircuitBreakerThreshold;

    /// <summary>How long the circuit stays open before a trial call (<see cref="RemoteTierOptions.CircuitBreakerCooldown"/>). Default: 10 s.</summary>
    public TimeSpan CircuitBreakerCooldown { get; set; } = TierDefaults.CircuitBreakerCooldown;

    /// <summary>What a put does when the server cannot take it now (<see cref="RemoteTierOptions.PutPolicy"/>). Default: <see cref="RemotePutPolicy.Drop"/>.</summary>
    public RemotePutPolicy PutPolicy { get; set; } = TierDefaults.PutPolicy;

    /// <summary>With <see cref="RemotePutPolicy.Queue"/>: the most records queued (<see cref="RemoteTierOptions.PutQueueCapacity"/>). Default: 256.</summary>
    public int PutQueueCapacity { get; set; } = TierDefaults.PutQueueCapacity;

    /// <summary>With <see cref="RemotePutPolicy.Queue"/>: the most bytes queued (<see cref="RemoteTierOptions.PutQueueMaxBytes"/>). Default: 256 MiB.</summary>
    public long PutQueueMaxBytes { get; set; } = TierDefaults.PutQueueMaxBytes;

    /// <summary>The tier's options with <paramref name="secret"/> (read from <see cref="TokenFile"/>).</summary>
    public RemoteTierOptions ToRemoteTierOptions(byte[] secret) => new()
    {
        Client = new KvCacheClientOptions
        {
            Host = Host,
            Port = Port,
            Secret = secret,
            UseTls = UseTls || PinnedCertificateSha256 is not null,
            TlsTargetHost = TlsTargetHost,
            ValidateServerCertificate = ValidateServerCertificate,
            PinnedCertificateSha256 = PinnedCertificateSha256,
            ConnectTimeout = ConnectTimeout,
            RequestTimeout = RequestTimeout,
        },
        CallTimeout = CallTimeout,
        MaxRetries = MaxRetries,
        RetryBaseDelay = RetryBaseDelay,
        RetryMaxDelay = RetryMaxDelay,
        CircuitBreakerThreshold = CircuitBreakerThreshold,
        CircuitBreakerCooldown = CircuitBreakerCooldown,
        PutPolicy = PutPolicy,
        PutQueueCapacity = PutQueueCapacity,
        PutQueueMaxBytes = PutQueueMaxBytes,
    };
}
