using System.Net;
using System.Security.Cryptography.X509Certificates;
using KvTier.Remote.Protocol;

namespace KvTier.Remote;

/// <summary>Options of a <see cref="KvCacheServer"/>. Validated once, when the server starts, with messages that name the option.</summary>
public sealed record KvCacheServerOptions
{
    /// <summary>Where to listen. Default: 127.0.0.1, port 0 (the system picks one; read <see cref="KvCacheServer.Endpoint"/>).</summary>
    public IPEndPoint Endpoint { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>The shared secret clients must prove they know (<see cref="SharedSecret.ReadTokenFile"/>). Required; at least 16 bytes.</summary>
    public required byte[] Secret { get; init; }

    /// <summary>
    /// The TLS certificate, with its private key; <c>null</c> (the default) serves plain TCP. TLS protects the records
    /// in transit; authentication works without it, since the secret never travels.
    /// </summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>
    /// How long a new connection may take to finish TLS and the handshake (format-spec/protocol.md §4). Default: 10 s.
    /// Shorter frees slots held by silent connections sooner; too short fails clients on slow links.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long an authenticated connection may stay without a request before the server closes it. Default: 10 min.
    /// Idle connections cost a socket and a few KiB each.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The longest one request may take, including waiting for memory budget and for a slow reader. Default: 60 s.
    /// A client that stops reading holds its record's lease (and blocks eviction of it) for at most this long.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long <see cref="KvCacheServer.StopAsync"/> lets requests in flight finish before it closes their connections. Default: 10 s.</summary>
    public TimeSpan ShutdownGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The most connections open at once; more are closed as they arrive. Default: 4096. Each costs a socket and a few KiB.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>
    /// The most requests (channels) served at once on one connection; further channel offers wait until one finishes
    /// (backpressure, not failure). Default: 64.
    /// </summary>
    public int MaxConcurrentRequestsPerConnection { get; init; } = 64;

    /// <summary>The largest record a put may carry. Default: 256 MiB; at most 1 GiB (the protocol's limit) and at most <see cref="MaxPutBytesPerConnection"/>.</summary>
    public long MaxRecordBytes { get; init; } = 256L << 20;

    /// <summary>
    /// Bytes of put bodies one connection may hold in memory at once; a put that would exceed it waits. Default: 512 MiB.
    /// Keeps one client from taking the whole global budget.
    /// </summary>
    public long MaxPutBytesPerConnection { get; init; } = 512L << 20;

    /// <summary>
    /// Bytes of put bodies all connections together may hold in memory at once; a put that would exceed it waits, and
    /// fails with <see cref="RemoteErrorCode.Busy"/> after <see cref="RequestTimeout"/>. Default: 2 GiB. The server's
    /// memory for puts is bounded by this, whatever clients send.
    /// </summary>
    public long MaxInFlightPutBytes { get; init; } = 2L << 30;

    /// <summary>The most keys one contains or longest-prefix request may carry. Default and maximum: 4096 (§7.3).</summary>
    public int MaxKeysPerLookup { get; init; } = ProtocolLimits.MaxKeysPerLookup;

    /// <summary>Bytes per data frame of a get reply. Default: 256 KiB; between 4 KiB and 1 MiB. Smaller interleaves better with small requests on the same connection.</summary>
    public int SendChunkBytes { get; init; } = 256 << 10;

    /// <summary>
    /// The most bulk lanes (format-spec/protocol.md §12) one connection may have attached at once: extra TCP (or TLS)
    /// connections that carry large get and put bodies outside the multiplexer, at close to the socket's bandwidth.
    /// Default: 4; 0 turns lanes off (the server offers no session token and clients use the multiplexer for every
    /// body); at most 64. Each lane costs a socket; the memory of put bodies stays bounded by the put budgets.
    /// </summary>
    public int MaxBulkLanesPerConnection { get; init; } = 4;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Endpoint, nameof(Endpoint));
        if (Secret is null || Secret.Length < ProtocolLimits.MinSecretBytes)
            throw new ArgumentException($"{nameof(Secret)} must hold at least {ProtocolLimits.MinSecretBytes} bytes.", nameof(Secret));
        if (Certificate is not null && !Certificate.HasPrivateKey)
            throw new ArgumentException($"{nameof(Certificate)} has no private key.", nameof(Certificate));
        Positive(HandshakeTimeout, nameof(HandshakeTimeout));
        Positive(IdleTimeout, nameof(IdleTimeout));
        Positive(RequestTimeout, nameof(RequestTimeout));
        if (ShutdownGracePeriod < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ShutdownGracePeriod), ShutdownGracePeriod, $"{nameof(ShutdownGracePeriod)} must not be negative.");
        if (MaxConnections < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, $"{nameof(MaxConnections)} must be at least 1.");
        if (MaxConcurrentRequestsPerConnection < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentRequestsPerConnection), MaxConcurrentRequestsPerConnection, $"{nameof(MaxConcurrentRequestsPerConnection)} must be at least 1.");
        if (MaxRecordBytes < 1 || MaxRecordBytes > ProtocolLimits.MaxRecordBytes)
            throw new ArgumentOutOfRangeException(nameof(MaxRecordBytes), MaxRecordBytes, $"{nameof(MaxRecordBytes)} must be between 1 and {ProtocolLimits.MaxRecordBytes}.");
        if (MaxPutBytesPerConnection < MaxRecordBytes)
            throw new ArgumentOutOfRangeException(nameof(MaxPutBytesPerConnection), MaxPutBytesPerConnection, $"{nameof(MaxPutBytesPerConnection)} must be at least {nameof(MaxRecordBytes)} ({MaxRecordBytes}).");
        if (MaxInFlightPutBytes < MaxPutBytesPerConnection)
            throw new ArgumentOutOfRangeException(nameof(MaxInFlightPutBytes), MaxInFlightPutBytes, $"{nameof(MaxInFlightPutBytes)} must be at least {nameof(MaxPutBytesPerConnection)} ({MaxPutBytesPerConnection}).");
        if (MaxKeysPerLookup < 1 || MaxKeysPerLookup > ProtocolLimits.MaxKeysPerLookup)
            throw new ArgumentOutOfRangeException(nameof(MaxKeysPerLookup), MaxKeysPerLookup, $"{nameof(MaxKeysPerLookup)} must be between 1 and {ProtocolLimits.MaxKeysPerLookup}.");
        if (SendChunkBytes < 4096 || SendChunkBytes > ProtocolLimits.MaxFramePayload)
            throw new ArgumentOutOfRangeException(nameof(SendChunkBytes), SendChunkBytes, $"{nameof(SendChunkBytes)} must be between 4096 and {ProtocolLimits.MaxFramePayload}.");
        if (MaxBulkLanesPerConnection < 0 || MaxBulkLanesPerConnection > ProtocolLimits.MaxBulkLanes)
            throw new ArgumentOutOfRangeException(nameof(MaxBulkLanesPerConnection), MaxBulkLanesPerConnection, $"{nameof(MaxBulkLanesPerConnection)} must be between 0 and {ProtocolLimits.MaxBulkLanes}.");
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }
}
