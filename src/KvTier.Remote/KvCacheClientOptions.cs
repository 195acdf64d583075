using KvTier.Remote.Protocol;

namespace KvTier.Remote;

/// <summary>Options of a <see cref="KvCacheClient"/>. Validated when connecting, with messages that name the option.</summary>
public sealed record KvCacheClientOptions
{
    /// <summary>The server's host name or address. Required.</summary>
    public required string Host { get; init; }

    /// <summary>The server's TCP port. Required; 1 – 65535.</summary>
    public required int Port { get; init; }

    /// <summary>The shared secret (<see cref="SharedSecret.ReadTokenFile"/>). Required; never sent, only proven (format-spec/protocol.md §5).</summary>
    public required byte[] Secret { get; init; }

    /// <summary>Whether to speak TLS. Default: false. Must match the server (<c>kvtier serve --tls-cert</c>).</summary>
    public bool UseTls { get; init; }

    /// <summary>The name the server's certificate must carry; default: <see cref="Host"/>.</summary>
    public string? TlsTargetHost { get; init; }

    /// <summary>
    /// Whether the server's certificate must chain to a trusted root and match <see cref="TlsTargetHost"/>. Default:
    /// true. Set false only with <see cref="PinnedCertificateSha256"/>, or for tests.
    /// </summary>
    public bool ValidateServerCertificate { get; init; } = true;

    /// <summary>
    /// The SHA-256 of the server certificate's DER bytes, as hex (the "fingerprint" of <c>openssl x509 -fingerprint
    /// -sha256</c>, colons allowed). When set, exactly that certificate is accepted, whatever its chain: the way to use a
    /// self-signed certificate safely. Default: none.
    /// </summary>
    public string? PinnedCertificateSha256 { get; init; }

    /// <summary>How long connecting (TCP, TLS and the handshake) may take. Default: 5 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long one operation may take before it fails with <see cref="RemoteErrorCode.Timeout"/>. Default: 30 s.
    /// Large records need time at the link's bandwidth; the remote tier uses its own, shorter, per-call timeout.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes per data frame of a put body. Default: 256 KiB; between 4 KiB and 1 MiB.</summary>
    public int SendChunkBytes { get; init; } = 256 << 10;

    /// <summary>The largest record a get accepts from the server. Default: 1 GiB (the protocol's limit).</summary>
    public long MaxRecordBytes { get; init; } = ProtocolLimits.MaxRecordBytes;

    /// <summary>
    /// Record bodies of at least this many bytes travel on a bulk lane (format-spec/protocol.md §12), a plain TCP (or TLS)
    /// connection beside the multiplexed one, instead of in 20 KiB multiplexer frames. Default: 1 MiB. 0 or negative
    /// turns lanes off: the client attaches none and every body uses the multiplexer. Lower moves more bodies off the
    /// multiplexer (faster for large ones) but a lane carries one body at a time, so small bodies are better
    /// interleaved on channels; at most 1 GiB.
    /// </summary>
    public int BulkLaneThresholdBytes { get; init; } = 1 << 20;

    /// <summary>
    /// How many bulk lanes the client attaches when the server offers them (at most the server's limit). Default: 2;
    /// 1 – 64. Each lane carries one body at a time in each direction: more lanes let more large gets and puts run at
    /// once outside the multiplexer, at the cost of a socket (and a TLS session) each; when every lane is busy a body
    /// takes the multiplexer.
    /// </summary>
    public int BulkLanes { get; init; } = 2;

    internal bool BulkLanesEnabled => BulkLaneThresholdBytes > 0;

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
            throw new ArgumentException($"{nameof(Host)} is required.", nameof(Host));
        if (Port is < 1 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(Port), Port, $"{nameof(Port)} must be between 1 and 65535.");
        if (Secret is null || Secret.Length < ProtocolLimits.MinSecretBytes)
            throw new ArgumentException($"{nameof(Secret)} must hold at least {ProtocolLimits.MinSecretBytes} bytes.", nameof(Secret));
        if (ConnectTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, $"{nameof(ConnectTimeout)} must be positive.");
        if (RequestTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, $"{nameof(RequestTimeout)} must be positive.");
        if (SendChunkBytes < 4096 || SendChunkBytes > ProtocolLimits.MaxFramePayload)
            throw new ArgumentOutOfRangeException(nameof(SendChunkBytes), SendChunkBytes, $"{nameof(SendChunkBytes)} must be between 4096 and {ProtocolLimits.MaxFramePayload}.");
        if (MaxRecordBytes < 1 || MaxRecordBytes > ProtocolLimits.MaxRecordBytes)
            throw new ArgumentOutOfRangeException(nameof(MaxRecordBytes), MaxRecordBytes, $"{nameof(MaxRecordBytes)} must be between 1 and {ProtocolLimits.MaxRecordBytes}.");
        if (BulkLaneThresholdBytes > ProtocolLimits.MaxRecordBytes)
            throw new ArgumentOutOfRangeException(nameof(BulkLaneThresholdBytes), BulkLaneThresholdBytes, $"{nameof(BulkLaneThresholdBytes)} must be at most {ProtocolLimits.MaxRecordBytes} (0 or negative turns lanes off).");
        if (BulkLanes < 1 || BulkLanes > ProtocolLimits.MaxBulkLanes)
            throw new ArgumentOutOfRangeException(nameof(BulkLanes), BulkLanes, $"{nameof(BulkLanes)} must be between 1 and {ProtocolLimits.MaxBulkLanes}.");
        if (PinnedCertificateSha256 is not null && NormalizedPin() is null)
            throw new ArgumentException($"{nameof(PinnedCertificateSha256)} must be 64 hexadecimal digits (colons allowed).", nameof(PinnedCertificateSha256));
    }

    internal string? NormalizedPin()
    {
        if (PinnedCertificateSha256 is null)
            return null;
        string hex = PinnedCertificateSha256.Replace(":", "", StringComparison.Ordinal).Trim().ToUpperInvariant();
        return hex.Length == 64 && hex.All(Uri.IsHexDigit) ? hex : null;
    }
}
