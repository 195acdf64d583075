namespace KvTier.Remote.Protocol;

/// <summary>
/// Why a remote operation failed (format-spec/protocol.md §8). Codes below 0x100 travel in error frames; codes from
/// 0x100 up are raised by the client itself and never sent.
/// </summary>
public enum RemoteErrorCode : ushort
{
    /// <summary>A frame header or message body is malformed (bad length, reserved bits set, wrong field values).</summary>
    MalformedFrame = 1,

    /// <summary>A frame's payload is longer than the limit (§3.2); the connection or channel is closed after it.</summary>
    FrameTooLarge = 2,

    /// <summary>The client's version range and the server's do not overlap (§4).</summary>
    UnsupportedVersion = 3,

    /// <summary>The client's proof of the shared secret was wrong, or the server's proof was (§5).</summary>
    AuthenticationFailed = 4,

    /// <summary>The frame type is unknown, or not allowed at this point of the exchange.</summary>
    UnexpectedFrame = 5,

    /// <summary>A count or length exceeds a protocol or server limit (keys per lookup, record bytes, page size).</summary>
    LimitExceeded = 6,

    /// <summary>The key is not stored. An expected outcome: the client reports it as a miss, not as an exception.</summary>
    NotFound = 7,

    /// <summary>The put body is not one valid chunk record, or its header key differs from the key announced.</summary>
    InvalidRecord = 8,

    /// <summary>The put body's length differs from the length announced in its put frame (§7.1).</summary>
    LengthMismatch = 9,

    /// <summary>The server's memory budget for put bodies stayed exhausted for the whole request timeout; retry later.</summary>
    Busy = 10,

    /// <summary>The store refused or failed the operation (disk full, I/O error, closed).</summary>
    StoreFailure = 11,

    /// <summary>The server is shutting down and takes no new requests.</summary>
    ShuttingDown = 12,

    /// <summary>The request ran longer than the server's request timeout.</summary>
    ServerTimeout = 13,

    /// <summary>The layer range asked for lies outside the record's layers.</summary>
    LayerOutOfRange = 14,

    /// <summary>An unexpected server-side failure; the server logged it and stays up.</summary>
    Internal = 15,

    /// <summary>
    /// A bulk-lane attach was refused (§12.2): unknown or expired session token (lanes off included), lane number out of
    /// range, or an attach sequence number not above the last one accepted for that lane. The lane connection is closed.
    /// </summary>
    BulkLaneRefused = 16,

    /// <summary>
    /// A request's body could not travel on its bulk lane (§12.3): the lane named is not attached, or the lane ended or
    /// carried a wrong body head mid-body. Nothing was stored; the lane is closed, the connection carries on; retry
    /// (on another lane or on the multiplexer).
    /// </summary>
    BulkLaneFailed = 17,

    /// <summary>Client side: the server could not be reached (connection refused, host unreachable).</summary>
    ConnectionRefused = 0x100,

    /// <summary>Client side: the connection closed or failed in the middle of an operation.</summary>
    ConnectionLost = 0x101,

    /// <summary>Client side: the operation did not complete within the client's timeout.</summary>
    Timeout = 0x102,

    /// <summary>Client side: the TLS handshake failed or the server certificate was not the one expected.</summary>
    TlsFailure = 0x103,

    /// <summary>Client side: the bulk lane carrying a get or put body closed or broke mid-body (§12.3); the connection carries on.</summary>
    BulkLaneLost = 0x104,
}
