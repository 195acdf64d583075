using KvTier.Keys;
using KvTier.Redis;
using KvTier.Remote;
using KvTier.Storage.Remote;
using Microsoft.Extensions.Logging;

namespace KvTier.Hosting;

/// <summary>
/// The remote tier as the container holds it: forwards every call to the real tier, logs when its circuit breaker opens
/// and closes, and disposes it both synchronously and asynchronously (the tiers are <see cref="IAsyncDisposable"/> only,
/// which a container disposed synchronously refuses).
/// </summary>
/// <remarks>
/// The breaker's state is read only after a call that came back empty (a miss, false or 0: where a breaker opens) or
/// while it is known open; nothing is logged per call. Every member may run concurrently; <c>_open</c> is interlocked.
/// </remarks>
internal sealed class ObservedRemoteTier(IRemoteTier inner, ILogger logger) : IRemoteTier, IDisposable
{
    private int _open;
    private int _disposed;

    public IRemoteTier Inner { get; } = inner;

    public string Name => Inner.Name;

    public async ValueTask<byte[]?> TryGetAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        byte[]? record = await Inner.TryGetAsync(key, cancellationToken).ConfigureAwait(false);
        AfterCall(record is not null);
        return record;
    }

    public async ValueTask<bool> PutAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        bool stored = await Inner.PutAsync(record, cancellationToken).ConfigureAwait(false);
        AfterCall(stored);
        return stored;
    }

    public async ValueTask<int> LongestPrefixAsync(IReadOnlyList<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        int found = await Inner.LongestPrefixAsync(keys, cancellationToken).ConfigureAwait(false);
        AfterCall(found > 0);
        return found;
    }

    public async ValueTask<bool> DeleteAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        bool deleted = await Inner.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        AfterCall(deleted);
        return deleted;
    }

    private void AfterCall(bool answered)
    {
        if (answered && Volatile.Read(ref _open) == 0)
            return;
        bool open = Inner switch
        {
            RemoteTier remote => remote.Circuit != CircuitState.Closed,
            RedisTier redis => redis.GetStatistics().CircuitOpen,
            _ => false,
        };
        if (open && Interlocked.Exchange(ref _open, 1) == 0)
            KvTierLog.BreakerOpened(logger, Name);
        else if (!open && Interlocked.Exchange(ref _open, 0) == 1)
            KvTierLog.BreakerClosed(logger, Name);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await Inner.DisposeAsync().ConfigureAwait(false);
        KvTierLog.RemoteTierClosed(logger, Name);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
