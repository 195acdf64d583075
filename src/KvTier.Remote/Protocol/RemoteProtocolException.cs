namespace KvTier.Remote.Protocol;

/// <summary>
/// A failed remote operation, typed by <see cref="Code"/>: a protocol violation, an error frame from the server, or a
/// client-side failure (refused connection, lost connection, timeout). A miss is not an exception (the client returns
/// <c>null</c> or <c>false</c>).
/// </summary>
public sealed class RemoteProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">Why the operation failed.</param>
    /// <param name="message">What happened, for people.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public RemoteProtocolException(RemoteErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>Why the operation failed.</summary>
    public RemoteErrorCode Code { get; }

    /// <summary>
    /// Whether the failure says something about the server's reachability or health (refused, lost, timed out, busy,
    /// shutting down, store failure, a broken bulk lane) rather than about the request itself; the remote tier's retries and circuit
    /// breaker count only these.
    /// </summary>
    public bool IsTransient => Code is RemoteErrorCode.ConnectionRefused or RemoteErrorCode.ConnectionLost or RemoteErrorCode.Timeout
        or RemoteErrorCode.Busy or RemoteErrorCode.ShuttingDown or RemoteErrorCode.ServerTimeout or RemoteErrorCode.StoreFailure
        or RemoteErrorCode.TlsFailure or RemoteErrorCode.Internal or RemoteErrorCode.BulkLaneFailed or RemoteErrorCode.BulkLaneLost;
}
