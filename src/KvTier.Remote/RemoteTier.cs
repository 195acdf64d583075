using KvTier.Keys;
using KvTier.Remote.Protocol;
using KvTier.Remote.Tier;
using KvTier.Storage.Remote;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvTier.Remote;

/// <summary>
/// The remote tier over a <c>kvtier serve</c> server (<see cref="IRemoteTier"/>): every call returns within
/// <see cref="RemoteTierOptions.CallTimeout"/>, retries transient failures with exponential backoff and jitter, and
/// stops calling a server that keeps failing (circuit breaker) — a dead server is a miss, never a hang or an exception.
/// </summary>
/// <remarks>
/// Concurrency: every method may be called from any number of threads. One <see cref="KvCacheClient"/> (one TCP
/// connection, many multiplexed channels) is shared; <c>_connectLock</c> serializes reconnecting; the circuit breaker
/// and the put queue have their own locks; counters use <see cref="Interlocked"/>. With
/// <see cref="RemotePutPolicy.Queue"/>, one background loop drains the queue.
/// </remarks>
public sealed class RemoteTier : IRemoteTier
{
    private readonly RemoteTierOptions _options;
    private readonly KvCacheClientOptions _clientOptions;
    private readonly ILogger _logger;
    private readonly CircuitBreaker _breaker;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _queueLock = new();
    private readonly LinkedList<byte[]> _queue = new();
    private readonly SemaphoreSlim _queueSignal = new(0);
    private readonly Task _drainLoop;
    private KvCacheClient? _client;
    private long _queuedBytes;
    private long _hits, _misses, _failures, _corruption, _stored, _dropped;

    /// <summary>Creates the tier; it connects on first use (and again after the connection is lost).</summary>
    /// <param name="options">The tier's options; validated here.</param>
    /// <param name="logger">Where failures are logged (at debug and warning level); none by default.</param>
    /// <param name="timeProvider">The clock of the circuit breaker; the system clock by default (tests pass a fake one).</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public RemoteTier(RemoteTierOptions options, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        // The client never waits longer than one call may.
        _clientOptions = options.Client with
        {
            ConnectTimeout = Min(options.Client.ConnectTimeout, options.CallTimeout),
            RequestTimeout = Min(options.Client.RequestTimeout, options.CallTimeout),
        };
        _logger = logger ?? NullLogger.Instance;
        _breaker = new CircuitBreaker(options.CircuitBreakerThreshold, options.CircuitBreakerCooldown, timeProvider ?? TimeProvider.System);
        Name = $"kvtier://{options.Client.Host}:{options.Client.Port}";
        _drainLoop = options.PutPolicy == RemotePutPolicy.Queue ? Task.Run(DrainQueueAsync) : Task.CompletedTask;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The circuit breaker's state now.</summary>
    public CircuitState Circuit => _breaker.State;

    /// <summary>The tier's counters now.</summary>
    public RemoteTierStatistics GetStatistics()
    {
        long queued;
        lock (_queueLock)
            queued = _queue.Count;
        return new RemoteTierStatistics
        {
            Hits = Interlocked.Read(ref _hits), Misses = Interlocked.Read(ref _misses), Failures = Interlocked.Read(ref _failures),
            CorruptionEvents = Interlocked.Read(ref _corruption), PutsStored = Interlocked.Read(ref _stored),
            PutsDropped = Interlocked.Read(ref _dropped), PutsQueued = queued, Circuit = _breaker.State,
        };
    }

    /// <inheritdoc/>
    public async ValueTask<byte[]?> TryGetAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        (CallOutcome outcome, byte[]? record) = await CallAsync((client, ct) => client.GetAsync(key, ct), cancellationToken).ConfigureAwait(false);
        if (outcome == CallOutcome.Ok)
            Interlocked.Increment(ref record is null ? ref _misses : ref _hits);
        return record;
    }

    /// <inheritdoc/>
    /// <remarks>With <see cref="RemotePutPolicy.Queue"/>, a record the server cannot take now is queued and false is returned: it is not durable yet.</remarks>
    public async ValueTask<bool> PutAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        KvCacheClient.HeaderKey(record); // ArgumentException before anything is sent.
        (CallOutcome outcome, ChunkKey _) = await CallAsync((client, ct) => client.PutAsync(record, ct), cancellationToken).ConfigureAwait(false);
        if (outcome == CallOutcome.Ok)
        {
            Interlocked.Increment(ref _stored);
            return true;
        }
        if (outcome == CallOutcome.Unavailable && _options.PutPolicy == RemotePutPolicy.Queue)
            Enqueue(record.ToArray());
        else
            Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <inheritdoc/>
    public async ValueTask<int> LongestPrefixAsync(IReadOnlyList<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
            return 0;
        (_, int n) = await CallAsync((client, ct) => client.LongestPrefixAsync(keys, ct), cancellationToken).ConfigureAwait(false);
        return n;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        (_, bool deleted) = await CallAsync((client, ct) => client.DeleteAsync(key, ct), cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    /// <summary>Stops the queue's drain loop (queued records are dropped) and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
            return;
        _disposed.Cancel();
        try
        {
            await _drainLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        KvCacheClient? client = Interlocked.Exchange(ref _client, null);
        if (client is not null)
            await client.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>One call: the breaker, the deadline, retries. (true, result) when the server answered; (false, default) otherwise.</summary>
    private async Task<(CallOutcome Outcome, T? Result)> CallAsync<T>(Func<KvCacheClient, CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_breaker.TryEnter(out bool trial))
        {
            Interlocked.Increment(ref _failures);
            return (CallOutcome.Unavailable, default);
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        deadline.CancelAfter(_options.CallTimeout);
        for (int attempt = 0; ; attempt++)
        {
            KvCacheClient? client = null;
            try
            {
                client = await GetClientAsync(deadline.Token).ConfigureAwait(false);
                T result = await operation(client, deadline.Token).ConfigureAwait(false);
                _breaker.OnSuccess(trial);
                return (CallOutcome.Ok, result);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                _breaker.OnAbandoned(trial); // The caller gave up; that says nothing about the server. Frees a half-open trial.
                throw;
            }
            catch (OperationCanceledException)
            {
                return Failed<T>(client, "timed out", trial);
            }
            catch (RemoteProtocolException e) when (e.IsTransient)
            {
                Forget(client);
                if (attempt >= _options.MaxRetries)
                    return Failed<T>(null, e.Message, trial);
                try
                {
                    await Task.Delay(Backoff(attempt), deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return Failed<T>(null, e.Message, trial);
                }
            }
            catch (RemoteProtocolException e)
            {
                // The server answered, but not with what was asked for (a corrupt record, a refused put, a protocol
                // violation): the server is up; the call is a miss.
                _breaker.OnSuccess(trial);
                if (e.Code is RemoteErrorCode.InvalidRecord)
                    Interlocked.Increment(ref _corruption);
                if (e.Code is RemoteErrorCode.MalformedFrame or RemoteErrorCode.UnexpectedFrame or RemoteErrorCode.LengthMismatch)
                    Forget(client); // The connection's stream is no longer trusted.
                Interlocked.Increment(ref _failures);
                RemoteTierLog.CallRefused(_logger, Name, e.Code, e.Message);
                return (CallOutcome.Refused, default);
            }
        }
    }

    private (CallOutcome, T?) Failed<T>(KvCacheClient? client, string reason, bool trial)
    {
        Forget(client);
        _breaker.OnFailure(trial);
        Interlocked.Increment(ref _failures);
        RemoteTierLog.CallFailed(_logger, Name, reason, _breaker.State);
        return (CallOutcome.Unavailable, default);
    }

    private TimeSpan Backoff(int attempt)
    {
        double ms = Math.Min(_options.RetryMaxDelay.TotalMilliseconds, _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, attempt));
        return TimeSpan.FromMilliseconds(ms * (0.5 + Random.Shared.NextDouble())); // ±50 % jitter: clients that failed together do not retry together.
    }

    private async Task<KvCacheClient> GetClientAsync(CancellationToken cancellationToken)
    {
        KvCacheClient? client = Volatile.Read(ref _client);
        if (client is { IsConnected: true })
            return client;
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            client = Volatile.Read(ref _client);
            if (client is { IsConnected: true })
                return client;
            Forget(client);
            client = await KvCacheClient.ConnectAsync(_clientOptions, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _client, client);
            return client;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private void Forget(KvCacheClient? client)
    {
        if (client is not null && Interlocked.CompareExchange(ref _client, null, client) == client)
            _ = client.DisposeAsync().AsTask().ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
    }

    private void Enqueue(byte[] record)
    {
        lock (_queueLock)
        {
            _queue.AddLast(record);
            _queuedBytes += record.Length;
            while (_queue.Count > _options.PutQueueCapacity || _queuedBytes > _options.PutQueueMaxBytes)
            {
                _queuedBytes -= _queue.First!.Value.Length;
                _queue.RemoveFirst();
                Interlocked.Increment(ref _dropped);
            }
        }
        _queueSignal.Release();
    }

    private async Task DrainQueueAsync()
    {
        CancellationToken stop = _disposed.Token;
        while (!stop.IsCancellationRequested)
        {
            await _queueSignal.WaitAsync(stop).ConfigureAwait(false);
            while (!stop.IsCancellationRequested)
            {
                byte[]? head;
                lock (_queueLock)
                    head = _queue.First?.Value;
                if (head is null)
                    break;
                (CallOutcome outcome, _) = _breaker.State == CircuitState.Open
                    ? (CallOutcome.Unavailable, default)
                    : await CallAsync((client, ct) => client.PutAsync(head, ct), stop).ConfigureAwait(false);
                if (outcome != CallOutcome.Unavailable)
                {
                    Interlocked.Increment(ref outcome == CallOutcome.Ok ? ref _stored : ref _dropped);
                    lock (_queueLock)
                    {
                        if (_queue.First?.Value == head)
                        {
                            _queue.RemoveFirst();
                            _queuedBytes -= head.Length;
                        }
                    }
                    continue;
                }
                await Task.Delay(Min(_options.CircuitBreakerCooldown, _options.RetryMaxDelay), stop).ConfigureAwait(false);
            }
        }
    }

    private enum CallOutcome
    {
        Ok,
        Unavailable, // refused connection, lost, timed out, busy, or the circuit is open
        Refused, // the server answered with a refusal (invalid record, limit, protocol error)
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
