using System.Net;
using KvTier.Remote.Protocol;
using Microsoft.Extensions.Logging;

namespace KvTier.Remote.Server;

// Structured log events of the server (event ids 1xx: lifecycle, 2xx: connections, 3xx: requests).
internal static partial class ServerLog
{
    [LoggerMessage(100, LogLevel.Information, "kvtier server listening on {Endpoint} (TLS {Tls}, store {Directory})")]
    public static partial void Listening(ILogger logger, EndPoint endpoint, bool tls, string directory);

    [LoggerMessage(101, LogLevel.Information, "kvtier server stopping: {Active} requests in flight, grace period {Grace}")]
    public static partial void Stopping(ILogger logger, long active, TimeSpan grace);

    [LoggerMessage(102, LogLevel.Information, "kvtier server stopped ({Abandoned} requests abandoned at the end of the grace period)")]
    public static partial void Stopped(ILogger logger, long abandoned);

    [LoggerMessage(103, LogLevel.Error, "kvtier server accept loop failed")]
    public static partial void AcceptFailed(ILogger logger, Exception error);

    [LoggerMessage(200, LogLevel.Debug, "connection {Connection} from {Remote} authenticated (protocol {Version})")]
    public static partial void Authenticated(ILogger logger, long connection, EndPoint? remote, ushort version);

    [LoggerMessage(201, LogLevel.Warning, "connection {Connection} from {Remote} refused in its handshake: {Code} {Reason}")]
    public static partial void HandshakeRefused(ILogger logger, long connection, EndPoint? remote, RemoteErrorCode code, string reason);

    [LoggerMessage(202, LogLevel.Debug, "connection {Connection} from {Remote} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long connection, EndPoint? remote, string reason);

    [LoggerMessage(203, LogLevel.Warning, "connection from {Remote} refused: {Open} connections open, the limit is {Limit}")]
    public static partial void TooManyConnections(ILogger logger, EndPoint? remote, long open, int limit);

    [LoggerMessage(204, LogLevel.Error, "connection {Connection} from {Remote} failed unexpectedly")]
    public static partial void ConnectionFailed(ILogger logger, long connection, EndPoint? remote, Exception error);

    [LoggerMessage(205, LogLevel.Debug, "connection {Connection} attached bulk lane {Lane} from {Remote}")]
    public static partial void LaneAttached(ILogger logger, long connection, int lane, EndPoint? remote);

    [LoggerMessage(300, LogLevel.Information, "connection {Connection} request {Request} {Type} refused: {Code} {Reason}")]
    public static partial void RequestRefused(ILogger logger, long connection, uint request, string type, RemoteErrorCode code, string reason);

    [LoggerMessage(301, LogLevel.Error, "connection {Connection} request {Request} {Type} failed unexpectedly")]
    public static partial void RequestFailed(ILogger logger, long connection, uint request, string type, Exception error);

    [LoggerMessage(302, LogLevel.Debug, "connection {Connection} stored {Key} ({Bytes} bytes)")]
    public static partial void Stored(ILogger logger, long connection, string key, long bytes);
}
