using KvTier.Storage;
using Microsoft.Extensions.Logging;

namespace KvTier.Hosting;

/// <summary>
/// Opens the container's store once and logs its opening and closing. The container resolves this before the
/// <see cref="KvStore"/> it hands out, so it disposes the store first and this afterwards, which logs the close.
/// </summary>
internal sealed class KvStoreLifetime : IDisposable
{
    private readonly ILogger _logger;

    public KvStoreLifetime(KvStoreOptions options, KvTierMetrics metrics, ILogger logger)
    {
        _logger = logger;
        try
        {
            Store = KvStore.Open(options);
        }
        catch (KvStoreException e)
        {
            KvTierLog.StoreOpenFailed(logger, options.Directory, e);
            throw;
        }
        StoreStatistics s = Store.GetStatistics();
        KvTierLog.StoreOpened(logger, Store.Options.Directory, s.Entries, s.LiveBytes, s.Segments, s.RecoveredRecords, s.CorruptionEvents);
        metrics.Observe(Store);
    }

    public KvStore Store { get; }

    public void Dispose()
    {
        Store.Dispose(); // Idempotent: the container has usually disposed it already.
        KvTierLog.StoreClosed(_logger, Store.Options.Directory);
    }
}
