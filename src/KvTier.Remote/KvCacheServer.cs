using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using KvTier.Remote.Protocol;
using KvTier.Remote.Server;
using KvTier.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvTier.Remote;

/// <summary>
/// The KvTier cache server (<c>kvtier serve</c>): a <see cref="KvStore"/> shared over TCP with the protocol of
/// format-spec/protocol.md. Each connection may use TLS, must pass the challenge-response handshake, then carries
/// concurrent requests on Nerdbank.Streams multiplexed channels, so that a large get does not block small lookups.
/// From protocol version 2 on, clients may attach bulk lanes (§12): extra connections that carry large get and put
/// bodies outside the multiplexer (<see cref="KvCacheServerOptions.MaxBulkLanesPerConnection"/>).
/// </summary>
/// <remarks>
/// Concurrency: one accept loop, one task per connection, one task per request; the store is thread-safe. Memory is
/// bounded by <see cref="KvCacheServerOptions.MaxInFlightPutBytes"/> for put bodies plus the multiplexer's per-channel
/// windows; counters are updated with <see cref="Interlocked"/>; <c>_connections</c> and <c>_bulkOwners</c> (bulk session
/// tokens to their connections) are concurrent dictionaries.
/// Bad input from a client never takes the server down: it gets a typed error frame, and its channel or connection is
/// closed where the stream can no longer be trusted (§9). A put is stored only once its whole body arrived and verified.
/// </remarks>
public sealed class KvCacheServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly bool _ownsStore;
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly ConcurrentDictionary<long, ServerConnection> _connections = new();
    private readonly ConcurrentDictionary<Task, byte> _connectionTasks = new();
    private readonly long _startedAt = Environment.TickCount64;
    private readonly Task _acceptLoop;
    private readonly Task _idleSweep;
    private readonly ConcurrentDictionary<string, ServerConnection> _bulkOwners = new(StringComparer.Ordinal);
    private long _nextConnectionId;
    private long _lanesAttached;
    private long _bulkSent;
    private long _bulkReceived;
    private long _laneFailures;
    private long _activeRequests;
    private long _rejected;
    private int _stopState; // 0 running, 1 stopping or stopped
    private Task? _stopTask;

    private KvCacheServer(KvStore store, KvCacheServerOptions options, ILogger logger, bool ownsStore)
    {
        Store = store;
        Options = options;
        Logger = logger;
        _ownsStore = ownsStore;
        PutBudget = new ByteBudget(options.MaxInFlightPutBytes);
        _listener = new TcpListener(options.Endpoint);
        _listener.Server.NoDelay = true;
        _listener.Start(1024);
        Endpoint = (IPEndPoint)_listener.LocalEndpoint;
        ServerLog.Listening(logger, Endpoint, options.Certificate is not null, store.Options.Directory);
        _acceptLoop = Task.Run(AcceptLoopAsync);
        _idleSweep = Task.Run(IdleSweepAsync);
    }

    /// <summary>Starts a server over <paramref name="store"/>; it listens when this returns.</summary>
    /// <param name="store">The store to serve; may be used by the caller at the same time (it is thread-safe).</param>
    /// <param name="options">The server's options; validated here.</param>
    /// <param name="logger">Where structured logs go; none by default.</param>
    /// <param name="ownsStore">Whether disposing the server disposes the store (after the last request finished).</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="SocketException">The endpoint could not be bound.</exception>
    public static KvCacheServer Start(KvStore store, KvCacheServerOptions options, ILogger? logger = null, bool ownsStore = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new KvCacheServer(store, options, logger ?? NullLogger.Instance, ownsStore);
    }

    /// <summary>The endpoint the server listens on (with the port the system picked when the options asked for port 0).</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>The store served.</summary>
    public KvStore Store { get; }

    /// <summary>The options the server runs with.</summary>
    public KvCacheServerOptions Options { get; }

    /// <summary>Whether the server takes new connections and requests (false once <see cref="StopAsync"/> began).</summary>
    public bool IsAccepting => Volatile.Read(ref _stopState) == 0;

    internal ILogger Logger { get; }

    internal ByteBudget PutBudget { get; }

    internal CancellationToken Stopping => _stopAccepting.Token;

    internal CancellationToken Aborted => _abort.Token;

    internal TimeSpan Uptime => TimeSpan.FromMilliseconds(Environment.TickCount64 - _startedAt);

    /// <summary>The store's statistics and the server's own counters now.</summary>
    public RemoteStatistics GetStatistics()
    {
        StoreStatistics s = Store.GetStatistics();
        return new RemoteStatistics
        {
            Entries = s.Entries, LiveBytes = s.LiveBytes, DeadBytes = s.DeadBytes, Segments = s.Segments,
            MemoryEntries = s.MemoryEntries, MemoryBytes = s.MemoryBytes, MemoryHits = s.MemoryHits, DiskHits = s.DiskHits,
            Misses = s.Misses, Puts = s.Puts, Deletes = s.Deletes, CorruptionEvents = s.CorruptionEvents,
            OpenConnections = _connections.Count, ActiveRequests = Interlocked.Read(ref _activeRequests),
            InFlightPutBytes = PutBudget.InUse, RejectedRequests = Interlocked.Read(ref _rejected),
            BulkLanesAttached = Interlocked.Read(ref _lanesAttached), BulkBodiesSent = Interlocked.Read(ref _bulkSent),
            BulkBodiesReceived = Interlocked.Read(ref _bulkReceived), BulkLaneFailures = Interlocked.Read(ref _laneFailures),
        };
    }

    /// <summary>
    /// Graceful shutdown: stops accepting connections and requests, lets requests in flight finish for up to
    /// <see cref="KvCacheServerOptions.ShutdownGracePeriod"/>, then closes every connection. Idempotent.
    /// </summary>
    /// <param name="cancellationToken">Cuts the grace period short.</param>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopState, 1) == 0)
        {
            // Synchronously: once StopAsync returns, connection attempts are refused.
            ServerLog.Stopping(Logger, Interlocked.Read(ref _activeRequests), Options.ShutdownGracePeriod);
            _stopAccepting.Cancel();
            _listener.Stop();
            _stopTask = StopCoreAsync(cancellationToken);
        }
        return _stopTask ?? Task.CompletedTask;
    }

    /// <summary>Stops the server (<see cref="StopAsync"/>) and, if it owns the store, disposes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_ownsStore)
            Store.Dispose();
        _stopAccepting.Dispose();
        _abort.Dispose();
    }

    internal void RequestStarted() => Interlocked.Increment(ref _activeRequests);

    internal void RequestEnded() => Interlocked.Decrement(ref _activeRequests);

    internal void CountRejected() => Interlocked.Increment(ref _rejected);

    // §12: the connections that offered a bulk session token, by token (hex); an entry lives as long as its connection.
    // The lookup only locates the owner: the attach's HMAC proof is what authenticates a lane.
    internal void RegisterBulkOwner(byte[] token, ServerConnection owner) => _bulkOwners[Convert.ToHexString(token)] = owner;

    internal void UnregisterBulkOwner(byte[] token) => _bulkOwners.TryRemove(Convert.ToHexString(token), out _);

    internal bool TryFindBulkOwner(byte[] token, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServerConnection? owner) =>
        _bulkOwners.TryGetValue(Convert.ToHexString(token), out owner);

    internal void LaneAttached() => Interlocked.Increment(ref _lanesAttached);

    internal void LaneClosed() => Interlocked.Decrement(ref _lanesAttached);

    internal void CountBulkSent() => Interlocked.Increment(ref _bulkSent);

    internal void CountBulkReceived() => Interlocked.Increment(ref _bulkReceived);

    internal void CountLaneFailure() => Interlocked.Increment(ref _laneFailures);

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        long deadline = Environment.TickCount64 + (long)Options.ShutdownGracePeriod.TotalMilliseconds;
        while (Interlocked.Read(ref _activeRequests) > 0 && Environment.TickCount64 < deadline && !cancellationToken.IsCancellationRequested)
            await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
        long abandoned = Interlocked.Read(ref _activeRequests);
        _abort.Cancel();
        foreach (ServerConnection c in _connections.Values)
            c.Close("server stopped");
        await IgnoreFailures(_acceptLoop).ConfigureAwait(false);
        await IgnoreFailures(_idleSweep).ConfigureAwait(false);
        await IgnoreFailures(Task.WhenAll(_connectionTasks.Keys)).ConfigureAwait(false);
        ServerLog.Stopped(Logger, abandoned);
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stopAccepting.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stopAccepting.Token).ConfigureAwait(false);
                }
                catch (SocketException) when (!_stopAccepting.IsCancellationRequested)
                {
                    continue; // A connection reset before it was accepted.
                }
                if (_connections.Count >= Options.MaxConnections)
                {
                    ServerLog.TooManyConnections(Logger, socket.RemoteEndPoint, _connections.Count, Options.MaxConnections);
                    CountRejected();
                    socket.Close(0);
                    continue;
                }
                socket.NoDelay = true;
                long id = Interlocked.Increment(ref _nextConnectionId);
                var connection = new ServerConnection(this, socket, id);
                _connections[id] = connection;
                Task task = RunConnectionAsync(connection);
                _connectionTasks[task] = 0;
                _ = task.ContinueWith(t => _connectionTasks.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (_stopAccepting.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (_stopAccepting.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            ServerLog.AcceptFailed(Logger, e);
        }
    }

    private async Task RunConnectionAsync(ServerConnection connection)
    {
        await Task.Yield();
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection.Id, out _);
        }
    }

    private async Task IdleSweepAsync()
    {
        TimeSpan period = TimeSpan.FromMilliseconds(Math.Clamp(Options.IdleTimeout.TotalMilliseconds / 4, 20, 5000));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopAccepting.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                foreach (ServerConnection c in _connections.Values)
                    c.CloseIfIdle(now);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task IgnoreFailures(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Shutdown: every failure was logged where it happened.
        }
    }
}
