using System.Buffers;
using System.Diagnostics;
using KvTier.Format;
using KvTier.Keys;
using StackExchange.Redis;

namespace KvTier.Redis;

// Get, put, longest prefix and delete: one Redis round trip each (plus a conditional delete of a corrupt value),
// bounded by OperationTimeout, behind the circuit breaker.
public sealed partial class RedisTier
{
    /// <summary>
    /// The record stored under <paramref name="key"/>, verified (envelope checksum, record header and section table,
    /// every section checksum, header key = <paramref name="key"/>); <c>null</c> when it is not stored, is corrupt, or
    /// Redis failed, timed out or the circuit is open.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The tier was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<byte[]?> TryGetAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        if (!_breaker.TryEnter(out bool probe))
        {
            Interlocked.Increment(ref _shortCircuited);
            Interlocked.Increment(ref _misses);
            return null;
        }
        long start = Stopwatch.GetTimestamp();
        RedisKey redisKey = KeyFor(key);
        Task<Lease<byte>?>? reading = null;
        Lease<byte>? lease;
        try
        {
            reading = _database.StringGetLeaseAsync(redisKey);
            lease = await reading.WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (reading is not null)
                AbandonRead(reading);
            if (!Failed(ex, probe, cancellationToken))
                throw;
            Interlocked.Increment(ref _misses);
            return null;
        }
        _breaker.OnSuccess(probe);
        if (lease is null)
        {
            Interlocked.Increment(ref _misses);
            return null;
        }

        byte[]? record;
        string? problem;
        using (lease)
        {
            record = Open(lease.Memory, key, out problem);
            if (record is null && _options.DeleteCorruptRecords)
                await DeleteCorruptAsync(redisKey, lease.Memory.ToArray(), start, cancellationToken).ConfigureAwait(false);
        }
        if (record is null)
        {
            Volatile.Write(ref _lastCorruption, $"{Name} key {key}: {problem}");
            Interlocked.Increment(ref _corrupt);
            Interlocked.Increment(ref _misses);
            return null;
        }
        Interlocked.Increment(ref _hits);
        Interlocked.Add(ref _bytesRead, record.Length);
        return record;
    }

    /// <summary>
    /// Stores one chunk record under the key in its header, in an envelope with its checksum, with
    /// <see cref="RedisTierOptions.TimeToLive"/>. True once Redis has acknowledged the write (in its memory, and on
    /// disk only as far as the server's own persistence settings say); false when the record is over
    /// <see cref="RedisTierOptions.MaxRecordBytes"/> (nothing sent), or Redis failed, refused (such as <c>OOM</c> under
    /// <c>noeviction</c>), timed out, or the circuit is open.
    /// </summary>
    /// <exception cref="ArgumentException">The bytes are not a valid chunk record, or a section fails its checksum (checked before anything is sent).</exception>
    /// <exception cref="ObjectDisposedException">The tier was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<bool> PutAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        ChunkRecord parsed = ParseForPut(record);
        if (record.Length > _options.MaxRecordBytes)
        {
            Interlocked.Increment(ref _putsTooLarge);
            Interlocked.Increment(ref _putsDropped);
            return false;
        }
        VerifySectionsForPut(parsed);
        if (!_breaker.TryEnter(out bool probe))
        {
            Interlocked.Increment(ref _shortCircuited);
            Interlocked.Increment(ref _putsDropped);
            return false;
        }

        int valueLength = RecordEnvelope.HeaderSize + record.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(valueLength);
        RecordEnvelope.Write(record.Span, buffer.AsSpan(0, valueLength));
        Task<bool> writing;
        try
        {
            writing = _database.StringSetAsync(KeyFor(parsed.Header.Key), new ReadOnlyMemory<byte>(buffer, 0, valueLength), _options.TimeToLive, When.Always);
        }
        catch (Exception ex) when (Failed(ex, probe, cancellationToken))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Increment(ref _putsDropped);
            return false;
        }
        bool stored;
        try
        {
            stored = await writing.WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The command may still be queued with the buffer: it goes back to the pool only once the command is done.
            _ = writing.ContinueWith(static (_, state) => ArrayPool<byte>.Shared.Return((byte[])state!), buffer, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            Observe(writing);
            if (!Failed(ex, probe, cancellationToken))
                throw;
            Interlocked.Increment(ref _putsDropped);
            return false;
        }
        ArrayPool<byte>.Shared.Return(buffer);
        _breaker.OnSuccess(probe);
        if (!stored)
        {
            Interlocked.Increment(ref _putsDropped);
            return false;
        }
        Interlocked.Increment(ref _putsStored);
        Interlocked.Add(ref _bytesWritten, record.Length);
        return true;
    }

    /// <summary>
    /// How many of <paramref name="keys"/>, from the first, Redis holds: one pipelined round trip of <c>EXISTS</c> per
    /// key (one per node in a cluster), for at most <see cref="RedisTierOptions.MaxLongestPrefixKeys"/> keys. Existence
    /// only: a record counted here can still turn out corrupt, expired or evicted when it is read. 0 on a failure, a
    /// timeout or an open circuit.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="keys"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The tier was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<int> LongestPrefixAsync(IReadOnlyList<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        int count = Math.Min(keys.Count, _options.MaxLongestPrefixKeys);
        if (count == 0)
            return 0;
        if (!_breaker.TryEnter(out bool probe))
        {
            Interlocked.Increment(ref _shortCircuited);
            return 0;
        }
        var lookups = new Task<bool>[count];
        Task all;
        try
        {
            IBatch batch = _database.CreateBatch();
            for (int i = 0; i < count; i++)
                lookups[i] = batch.KeyExistsAsync(KeyFor(keys[i]));
            batch.Execute();
            all = Task.WhenAll(lookups);
        }
        catch (Exception ex) when (Failed(ex, probe, cancellationToken))
        {
            foreach (Task<bool>? lookup in lookups)
            {
                if (lookup is not null)
                    Observe(lookup);
            }
            return 0;
        }
        try
        {
            await all.WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Observe(all);
            if (!Failed(ex, probe, cancellationToken))
                throw;
            return 0;
        }
        _breaker.OnSuccess(probe);
        int held = 0;
        while (held < count && lookups[held].Result)
            held++;
        return held;
    }

    /// <summary>Deletes the record under <paramref name="key"/>; true if Redis had it and removed it, false otherwise or on a failure, a timeout or an open circuit.</summary>
    /// <exception cref="ObjectDisposedException">The tier was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<bool> DeleteAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        if (!_breaker.TryEnter(out bool probe))
        {
            Interlocked.Increment(ref _shortCircuited);
            return false;
        }
        Task<bool>? deleting = null;
        bool deleted;
        try
        {
            deleting = _database.KeyDeleteAsync(KeyFor(key));
            deleted = await deleting.WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (deleting is not null)
                Observe(deleting);
            if (!Failed(ex, probe, cancellationToken))
                throw;
            return false;
        }
        _breaker.OnSuccess(probe);
        return deleted;
    }

    /// <summary>The record inside a value read from Redis, copied out, when every check passes; null with the reason otherwise.</summary>
    private byte[]? Open(ReadOnlyMemory<byte> value, ChunkKey key, out string? problem)
    {
        if (!RecordEnvelope.TryOpen(value.Span, _options.MaxRecordBytes, out Range range, out problem))
            return null;
        ReadOnlyMemory<byte> bytes = value[range];
        try
        {
            ChunkRecord parsed = ChunkRecord.Parse(bytes, Name, allowTrailingBytes: false, maxDecodedBytes: long.MaxValue);
            if (parsed.Header.Key != key)
            {
                problem = $"the value under this key holds the record of key {parsed.Header.Key}";
                return null;
            }
            foreach (SectionEntry section in parsed.Sections)
                _ = parsed.GetPayload(section.Layer, section.Kind);
        }
        catch (ChunkRecordException ex)
        {
            problem = ex.Message;
            return null;
        }
        return bytes.ToArray();
    }

    /// <summary>
    /// Deletes a corrupt value if it is still the value that was read (a conditional transaction: a good record that
    /// another client has written since survives). Best effort, within what is left of the call's timeout.
    /// </summary>
    private async ValueTask DeleteCorruptAsync(RedisKey redisKey, byte[] corruptValue, long start, CancellationToken cancellationToken)
    {
        TimeSpan left = _options.OperationTimeout - Stopwatch.GetElapsedTime(start);
        if (left <= TimeSpan.Zero)
            return;
        // WATCH + GET + MULTI/DEL/EXEC: works on every Redis this tier supports; the single-command
        // DELEX … IFEQ form (SER301) needs Redis 8.4.
        Task<bool>? executing = null;
        try
        {
            ITransaction transaction = _database.CreateTransaction();
#pragma warning disable SER301
            transaction.AddCondition(Condition.StringEqual(redisKey, corruptValue));
            Task<bool> delete = transaction.KeyDeleteAsync(redisKey);
#pragma warning restore SER301
            Observe(delete);
            executing = transaction.ExecuteAsync();
            if (await executing.WaitAsync(left, cancellationToken).ConfigureAwait(false))
                Interlocked.Increment(ref _corruptDeleted);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // The get is a miss either way; the next get finds the value again and retries.
            if (executing is not null)
                Observe(executing);
        }
    }

    /// <summary>A get abandoned on a timeout may still complete later with a pooled lease: hand it back then.</summary>
    private static void AbandonRead(Task<Lease<byte>?> reading) =>
        _ = reading.ContinueWith(static t =>
        {
            if (t.IsCompletedSuccessfully)
                t.Result?.Dispose();
            else
                _ = t.Exception;
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private ChunkRecord ParseForPut(ReadOnlyMemory<byte> record)
    {
        try
        {
            return ChunkRecord.Parse(record, "put", allowTrailingBytes: false, maxDecodedBytes: long.MaxValue);
        }
        catch (ChunkRecordException ex)
        {
            throw new ArgumentException($"not a chunk record, nothing sent: {ex.Message}", nameof(record), ex);
        }
    }

    private static void VerifySectionsForPut(ChunkRecord parsed)
    {
        try
        {
            foreach (SectionEntry section in parsed.Sections)
                _ = parsed.GetPayload(section.Layer, section.Kind);
        }
        catch (ChunkRecordException ex)
        {
            throw new ArgumentException($"not a valid chunk record, nothing sent: {ex.Message}", "record", ex);
        }
    }
}
