using System.Diagnostics;
using System.Text;
using KvTier.Keys;
using KvTier.Storage.Remote;
using StackExchange.Redis;

namespace KvTier.Redis;

/// <summary>
/// A remote tier over Redis, standalone or cluster (StackExchange.Redis): each chunk record is one Redis string under
/// <c>{namespace}:rec:{key in hex}</c>, wrapped in a small envelope with an XXH3-64 checksum
/// (format-spec/redis-tier.md). Records written by one instance are read bit-exact by every other instance pointed at
/// the same Redis and namespace.
/// </summary>
/// <remarks>
/// <para>Never hangs, never throws for Redis's sake: every call returns within
/// <see cref="RedisTierOptions.OperationTimeout"/> with a miss (<c>null</c>, <c>false</c>, 0) when Redis is down,
/// slow, or refuses; after <see cref="RedisTierOptions.CircuitBreakerFailureThreshold"/> consecutive failures a circuit
/// breaker answers misses at once for <see cref="RedisTierOptions.CircuitBreakerCooldown"/>. Only misuse (a disposed
/// tier, an argument that is not a record) and the caller's own cancellation throw.</para>
/// <para>What a get returns passed every check: the envelope (magic, version, length, checksum), the chunk record's
/// header and section table, every section checksum, and the record's key equals the key asked for. Anything else is a
/// miss, counted in <see cref="RedisTierStatistics.CorruptRecords"/>.</para>
/// <para>Concurrency: every member may be called from any number of threads at once. The connection multiplexer is
/// thread-safe and pipelines concurrent calls over one connection per server; counters are updated with
/// <see cref="Interlocked"/>; the circuit breaker is lock-free.</para>
/// </remarks>
public sealed partial class RedisTier : IRemoteTier
{
    private readonly ConnectionMultiplexer _connection;
    private readonly IDatabase _database;
    private readonly RedisTierOptions _options;
    private readonly CircuitBreaker _breaker;
    private readonly byte[] _keyPrefix;
    private int _disposed;

    private long _hits;
    private long _misses;
    private long _corrupt;
    private long _corruptDeleted;
    private long _putsStored;
    private long _putsDropped;
    private long _putsTooLarge;
    private long _errors;
    private long _timeouts;
    private long _shortCircuited;
    private long _bytesRead;
    private long _bytesWritten;
    private string? _lastCorruption;

    private RedisTier(ConnectionMultiplexer connection, RedisTierOptions options, string name, string keyPrefix)
    {
        _connection = connection;
        _options = options;
        _database = connection.GetDatabase(options.Database);
        _breaker = new CircuitBreaker(options.CircuitBreakerFailureThreshold, options.CircuitBreakerCooldown);
        _keyPrefix = Encoding.ASCII.GetBytes(keyPrefix);
        Name = name;
    }

    /// <summary>
    /// Validates <paramref name="options"/> and connects. Waits at most about <see cref="RedisTierOptions.ConnectTimeout"/>
    /// for Redis; when it cannot be reached the tier is returned anyway and keeps reconnecting in the background,
    /// answering misses until it succeeds.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<RedisTier> ConnectAsync(RedisTierOptions options, CancellationToken cancellationToken = default)
    {
        (ConfigurationOptions configuration, string name, string keyPrefix) = RedisConfiguration.Create(options);
        cancellationToken.ThrowIfCancellationRequested();
        Task<ConnectionMultiplexer> connecting = ConnectionMultiplexer.ConnectAsync(configuration);
        ConnectionMultiplexer connection;
        try
        {
            connection = await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _ = connecting.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            Observe(connecting);
            throw;
        }
        return new RedisTier(connection, options, name, keyPrefix);
    }

    /// <summary>Where this tier points: <c>redis://host:port[,host:port…]/namespace</c> (<c>rediss://</c> with TLS); never a credential.</summary>
    public string Name { get; }

    /// <summary>The options this tier was created with.</summary>
    public RedisTierOptions Options => _options;

    /// <summary>A snapshot of this instance's counters.</summary>
    public RedisTierStatistics GetStatistics() => new()
    {
        Hits = Interlocked.Read(ref _hits),
        Misses = Interlocked.Read(ref _misses),
        CorruptRecords = Interlocked.Read(ref _corrupt),
        CorruptRecordsDeleted = Interlocked.Read(ref _corruptDeleted),
        PutsStored = Interlocked.Read(ref _putsStored),
        PutsDropped = Interlocked.Read(ref _putsDropped),
        PutsTooLarge = Interlocked.Read(ref _putsTooLarge),
        Errors = Interlocked.Read(ref _errors),
        Timeouts = Interlocked.Read(ref _timeouts),
        ShortCircuited = Interlocked.Read(ref _shortCircuited),
        CircuitOpenings = _breaker.Openings,
        CircuitOpen = _breaker.IsOpen,
        BytesRead = Interlocked.Read(ref _bytesRead),
        BytesWritten = Interlocked.Read(ref _bytesWritten),
        LastCorruption = Volatile.Read(ref _lastCorruption),
    };

    /// <summary>Closes the connection; calls in flight end as failures, later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            await _connection.CloseAsync(allowCommandsToComplete: false).WaitAsync(_options.OperationTimeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Closing a connection to a dead server: nothing to flush, nothing to report.
        }
        _connection.Dispose();
    }

    /// <summary>The Redis key of a record: the namespace prefix, then the chunk key as 64 lowercase hex digits (ASCII).</summary>
    internal RedisKey KeyFor(ChunkKey key)
    {
        var bytes = new byte[_keyPrefix.Length + 2 * ChunkKey.Size];
        _keyPrefix.CopyTo(bytes, 0);
        Span<byte> raw = stackalloc byte[ChunkKey.Size];
        key.CopyTo(raw);
        int at = _keyPrefix.Length;
        for (int i = 0; i < raw.Length; i++)
        {
            bytes[at++] = HexDigit(raw[i] >> 4);
            bytes[at++] = HexDigit(raw[i] & 0xF);
        }
        return bytes;
    }

    private static byte HexDigit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>
    /// Sorts out why a call to Redis did not complete: the caller's cancellation propagates (false); anything else is
    /// counted, reported to the circuit breaker, and the call answers a miss (true).
    /// </summary>
    private bool Failed(Exception exception, bool probe, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            _breaker.OnAbandoned(probe);
            return false;
        }
        if (Volatile.Read(ref _disposed) != 0)
        {
            _breaker.OnAbandoned(probe);
            ObjectDisposedException.ThrowIf(true, this); // Disposed under the call: misuse.
        }
        Interlocked.Increment(ref _errors);
        switch (exception)
        {
            case TimeoutException: // Ours (WaitAsync) and RedisTimeoutException.
                Interlocked.Increment(ref _timeouts);
                _breaker.OnFailure(probe);
                break;
            case RedisServerException: // An error reply (OOM under noeviction, READONLY, …): the server is up.
                _breaker.OnSuccess(probe);
                break;
            default:
                _breaker.OnFailure(probe);
                break;
        }
        return true;
    }

    /// <summary>Keeps an abandoned task's fault from surfacing as an unobserved exception.</summary>
    private static void Observe(Task task) =>
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
