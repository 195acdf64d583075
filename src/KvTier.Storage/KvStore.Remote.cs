using System.Threading.Channels;
using KvTier.Keys;
using KvTier.Storage.Remote;

namespace KvTier.Storage;

// The remote tier (KvStoreOptions.RemoteTier): the last tier of the chain local memory → local disk → remote. Async gets
// fall through to it on a local miss and keep what it returns locally; puts are written behind to it in the background.
public sealed partial class KvStore
{
    private Channel<ChunkKey>? _remoteQueue;          // keys stored locally, waiting to be written behind (bounded)
    private Task _remoteSender = Task.CompletedTask;
    private CancellationTokenSource? _remoteStop;
    private long _remoteQueued;                       // keys in _remoteQueue or being sent (Interlocked)
    private long _remoteHits, _remoteMisses, _remoteWrites, _remoteWritesDropped, _remoteBytesRead;

    private IRemoteTier? Remote => Options.RemoteTier;

    private void StartRemoteWriter()
    {
        if (Remote is null || Options.RemoteWrites == RemoteWritePolicy.None)
            return;
        _remoteQueue = Channel.CreateBounded<ChunkKey>(new BoundedChannelOptions(Options.RemoteWriteQueueLength)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of waiting: the put is counted as dropped.
        });
        _remoteStop = new CancellationTokenSource();
        _remoteSender = Task.Run(() => SendRemoteWritesAsync(_remoteQueue.Reader, _remoteStop.Token));
    }

    /// <summary>
    /// Gets a record from the first tier that has it: memory, disk, then <see cref="KvStoreOptions.RemoteTier"/>. A record
    /// the remote returns is checked and stored locally (so the next get is local) before the lease is handed out.
    /// </summary>
    /// <param name="key">The record's key.</param>
    /// <param name="verification">How much of a disk-tier record to check; default <see cref="KvStoreOptions.ReadVerification"/>.</param>
    /// <param name="cancellationToken">Stops waiting for the remote (the local tiers never wait).</param>
    /// <returns>A lease the caller must dispose, or null when no tier has the record (or the remote failed or timed out).</returns>
    /// <exception cref="KvStoreException">The store is closed or its writer failed.</exception>
    public async ValueTask<RecordLease?> GetAsync(ChunkKey key, ReadVerification? verification = null, CancellationToken cancellationToken = default)
    {
        ReadVerification check = verification ?? Options.ReadVerification;
        if (TryGet(key, check, out RecordLease? lease))
            return lease;
        if (Remote is not { } remote)
            return null;
        byte[]? record = await remote.TryGetAsync(key, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            Interlocked.Increment(ref _remoteMisses);
            return null;
        }
        if (!await TryKeepRemoteRecordAsync(key, record).ConfigureAwait(false))
            return null;
        Interlocked.Increment(ref _remoteHits);
        Interlocked.Add(ref _remoteBytesRead, record.Length);
        return TryGet(key, check, out lease) ? lease : null;
    }

    /// <summary>
    /// How many of <paramref name="prefixKeys"/>, from the first, some tier holds: the local tiers first, then the remote
    /// for the rest (one round trip). Nothing is fetched.
    /// </summary>
    /// <exception cref="KvStoreException">The store is closed.</exception>
    public async ValueTask<int> LongestPrefixAsync(IReadOnlyList<ChunkKey> prefixKeys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefixKeys);
        ThrowIfDisposed();
        ChunkKey[] keys = prefixKeys as ChunkKey[] ?? [.. prefixKeys];
        int local = LongestPrefix(keys);
        if (local == keys.Length || Remote is not { } remote)
            return local;
        ChunkKey[] rest = keys[local..];
        int remoteCount = await remote.LongestPrefixAsync(rest, cancellationToken).ConfigureAwait(false);
        return local + Math.Clamp(remoteCount, 0, rest.Length);
    }

    /// <summary>
    /// Waits until every record put so far has been written behind to the remote tier, or dropped (remote down, queue
    /// full). Returns at once without a remote tier or with <see cref="RemoteWritePolicy.None"/>.
    /// </summary>
    public async Task FlushRemoteAsync(CancellationToken cancellationToken = default)
    {
        while (Interlocked.Read(ref _remoteQueued) > 0 && !_remoteSender.IsCompleted)
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores a record the remote returned, without writing it back there; false (counted) if it is not a valid record for the key.</summary>
    private async ValueTask<bool> TryKeepRemoteRecordAsync(ChunkKey key, byte[] record)
    {
        try
        {
            PutOp op = Prepare(record); // Checks the header and (with VerifyOnPut) every section, whatever the remote claims.
            if (op.Header.Key != key)
            {
                ReportRemoteCorrupt(key, $"the remote returned a record with key {op.Header.Key}");
                return false;
            }
            Enqueue(op);
            await op.Done.Task.ConfigureAwait(false);
            return true;
        }
        catch (KvStoreException ex) when (ex.Kind is StoreErrorKind.InvalidRecord or StoreErrorKind.RecordTooLarge)
        {
            ReportRemoteCorrupt(key, ex.Message);
            return false;
        }
        catch (KvStoreException ex) when (ex.Kind == StoreErrorKind.Full)
        {
            // The local disk is full and eviction is off: the record is not kept, so this get misses.
            Interlocked.Increment(ref _remoteMisses);
            return false;
        }
    }

    private void ReportRemoteCorrupt(ChunkKey key, string problem)
    {
        Interlocked.Increment(ref _corruptions);
        Interlocked.Increment(ref _remoteMisses);
        _ = (key, problem); // Counted, like a local corruption event; the store keeps no log.
    }

    /// <summary>Queues a locally durable record for the remote once its put completes (write-behind).</summary>
    private void WriteBehind(Task<ChunkKey> put)
    {
        if (_remoteQueue is null)
            return;
        Interlocked.Increment(ref _remoteQueued);
        put.ContinueWith(static (t, state) =>
        {
            var store = (KvStore)state!;
            if (!t.IsCompletedSuccessfully || !store._remoteQueue!.Writer.TryWrite(t.Result))
            {
                if (t.IsCompletedSuccessfully)
                    Interlocked.Increment(ref store._remoteWritesDropped); // Queue full (or the store closing): kept locally only.
                Interlocked.Decrement(ref store._remoteQueued);
            }
        }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The write-behind sender: reads each queued record back from the local tiers (no copy is kept meanwhile) and puts it to the remote.</summary>
    private async Task SendRemoteWritesAsync(ChannelReader<ChunkKey> queue, CancellationToken token)
    {
        IRemoteTier remote = Remote!;
        try
        {
            while (await queue.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (queue.TryRead(out ChunkKey key))
                {
                    try
                    {
                        bool sent = false;
                        if (Volatile.Read(ref _disposed) == 0 && TryGet(key, ReadVerification.Full, out RecordLease? lease))
                        {
                            using (lease)
                                sent = await remote.PutAsync(lease.Bytes, token).ConfigureAwait(false);
                        }
                        Interlocked.Increment(ref sent ? ref _remoteWrites : ref _remoteWritesDropped);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
                    {
                        // The record was deleted or evicted meanwhile, or the store is closing: nothing to send.
                        Interlocked.Increment(ref _remoteWritesDropped);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _remoteQueued);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Closing: what is still queued stays local only.
        }
        long left = 0;
        while (queue.TryRead(out _))
            left++;
        Interlocked.Add(ref _remoteWritesDropped, left);
        Interlocked.Add(ref _remoteQueued, -left);
    }

    /// <summary>Stops the write-behind sender (at store close): records not yet sent stay local only and count as dropped.</summary>
    private void StopRemoteWriter()
    {
        if (_remoteQueue is null)
            return;
        _remoteQueue.Writer.TryComplete();
        _remoteStop!.Cancel();
        try
        {
            _remoteSender.Wait();
        }
        catch (AggregateException)
        {
            // The sender catches its own errors; nothing to report at close.
        }
        _remoteStop.Dispose();
    }

    private RemoteTierCounters RemoteCounters() => new(
        Interlocked.Read(ref _remoteHits), Interlocked.Read(ref _remoteMisses), Interlocked.Read(ref _remoteWrites),
        Interlocked.Read(ref _remoteWritesDropped), Interlocked.Read(ref _remoteQueued), Interlocked.Read(ref _remoteBytesRead));

    private readonly record struct RemoteTierCounters(long Hits, long Misses, long Writes, long WritesDropped, long Queued, long BytesRead);
}
