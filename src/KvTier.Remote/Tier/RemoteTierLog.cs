using KvTier.Remote.Protocol;
using KvTier.Storage.Remote;
using Microsoft.Extensions.Logging;

namespace KvTier.Remote.Tier;

// Structured log events of the remote tier (event ids 4xx).
internal static partial class RemoteTierLog
{
    [LoggerMessage(400, LogLevel.Debug, "remote tier {Name}: call failed ({Reason}); circuit {Circuit}")]
    public static partial void CallFailed(ILogger logger, string name, string reason, CircuitState circuit);

    [LoggerMessage(401, LogLevel.Warning, "remote tier {Name}: the server refused a call: {Code} {Reason}")]
    public static partial void CallRefused(ILogger logger, string name, RemoteErrorCode code, string reason);
}
