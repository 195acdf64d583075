using Microsoft.Extensions.Logging;

namespace KvTier.Hosting;

/// <summary>KvTier's lifecycle log messages (never logged per get, put or section).</summary>
internal static partial class KvTierLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "KvTier store opened: {Directory}, {Entries} records, {LiveBytes} live bytes, {Segments} segments, {RecoveredRecords} records recovered, {CorruptionEvents} corrupt records dropped")]
    public static partial void StoreOpened(ILogger logger, string directory, long entries, long liveBytes, int segments, long recoveredRecords, long corruptionEvents);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "KvTier store closed: {Directory}")]
    public static partial void StoreClosed(ILogger logger, string directory);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "KvTier store {Directory} could not be opened")]
    public static partial void StoreOpenFailed(ILogger logger, string directory, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "KvTier remote tier {Tier} configured")]
    public static partial void RemoteTierCreated(ILogger logger, string tier);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "KvTier remote tier {Tier}: circuit breaker opened; calls are misses until it recovers")]
    public static partial void BreakerOpened(ILogger logger, string tier);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "KvTier remote tier {Tier}: circuit breaker closed; calls reach it again")]
    public static partial void BreakerClosed(ILogger logger, string tier);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "KvTier remote tier {Tier} closed")]
    public static partial void RemoteTierClosed(ILogger logger, string tier);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "KvTier prefetcher created: decoding on {Decoder}, {StagingBudgetBytes} staging bytes")]
    public static partial void PrefetcherCreated(ILogger logger, string decoder, long stagingBudgetBytes);
}
