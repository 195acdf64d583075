using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using KvTier.Remote.Protocol;
using Microsoft.Extensions.Logging;
using Nerdbank.Streams;

namespace KvTier.Remote.Server;

// One client connection: optional TLS, the handshake (format-spec/protocol.md §4, §5), then one request per
// multiplexed channel (§6). Concurrency: RunAsync runs once; request handlers run concurrently, at most
// MaxConcurrentRequestsPerConnection at a time (_slots); _active and _lastActivity are updated with Interlocked;
// Close may be called from any thread.
internal sealed partial class ServerConnection
{
    public const string ChannelName = "kvtier";

    private readonly KvCacheServer _server;
    private readonly Socket _socket;
    private readonly EndPoint? _remote;
    private readonly CancellationTokenSource _closed;
    private readonly SemaphoreSlim _slots;
    private readonly ByteBudget _putBudget;
    private MultiplexingStream? _mux;
    private long _lastActivity = Environment.TickCount64;
    private int _active;
    private ushort _version;
    private string? _closeReason;
    private bool _handedOff; // this connection's stream and socket became a bulk lane of another connection (§12.2)

    public ServerConnection(KvCacheServer server, Socket socket, long id)
    {
        _server = server;
        _socket = socket;
        _remote = socket.RemoteEndPoint;
        Id = id;
        _closed = CancellationTokenSource.CreateLinkedTokenSource(server.Aborted);
        _slots = new SemaphoreSlim(server.Options.MaxConcurrentRequestsPerConnection);
        _putBudget = new ByteBudget(server.Options.MaxPutBytesPerConnection);
    }

    public long Id { get; }

    private ILogger Logger => _server.Logger;

    private KvCacheServerOptions Options => _server.Options;

    public void Close(string reason)
    {
        Interlocked.CompareExchange(ref _closeReason, reason, null);
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void CloseIfIdle(long now)
    {
        if (_mux is not null && Volatile.Read(ref _active) == 0 && now - Interlocked.Read(ref _lastActivity) > (long)Options.IdleTimeout.TotalMilliseconds)
            Close("idle timeout");
    }

    public async Task RunAsync()
    {
        Stream? stream = null;
        try
        {
            stream = new NetworkStream(_socket, ownsSocket: true);
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token))
            {
                handshake.CancelAfter(Options.HandshakeTimeout);
                stream = await HandshakeAsync(stream, handshake.Token).ConfigureAwait(false);
                if (stream is null)
                    return;
                var muxOptions = new MultiplexingStream.Options { ProtocolMajorVersion = 3, DefaultChannelReceivingWindowSize = ProtocolLimits.ChannelReceivingWindowBytes };
                _mux = await MultiplexingStream.CreateAsync(stream, muxOptions, handshake.Token).ConfigureAwait(false);
            }
            Touch();
            ServerLog.Authenticated(Logger, Id, _remote, _version);
            try
            {
                await AcceptChannelsAsync(_mux).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_server.Stopping.IsCancellationRequested && !_closed.IsCancellationRequested)
            {
                // Graceful stop: no new requests; those in flight finish (the server aborts them after its grace period).
                while (Volatile.Read(ref _active) > 0 && !_closed.IsCancellationRequested)
                    await Task.Delay(5, CancellationToken.None).ConfigureAwait(false);
                Interlocked.CompareExchange(ref _closeReason, "server stopped", null);
            }
        }
        catch (OperationCanceledException)
        {
            Interlocked.CompareExchange(ref _closeReason, _mux is null ? "handshake timeout" : "closed", null);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException or RemoteProtocolException or MultiplexingProtocolException)
        {
            Interlocked.CompareExchange(ref _closeReason, e.Message, null);
        }
        catch (Exception e)
        {
            // Never let one connection take the server down; a bug here is logged and the connection closed.
            ServerLog.ConnectionFailed(Logger, Id, _remote, e);
            Interlocked.CompareExchange(ref _closeReason, "internal error", null);
        }
        finally
        {
            // Let handlers notice, then wait for them: a handler never outlives its connection's resources.
            Close(_closeReason ?? "closed");
            while (Volatile.Read(ref _active) > 0)
                await Task.Delay(5, CancellationToken.None).ConfigureAwait(false);
            CloseLanes();
            if (_mux is not null)
                await _mux.DisposeAsync().ConfigureAwait(false);
            if (stream is not null && !_handedOff)
                await stream.DisposeAsync().ConfigureAwait(false);
            if (!_handedOff)
                _socket.Dispose();
            _closed.Dispose();
            _slots.Dispose();
            ServerLog.ConnectionClosed(Logger, Id, _remote, _closeReason ?? "closed");
        }
    }

    private void Touch() => Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);

    /// <summary>TLS (when configured), then §4–§5. Returns the stream to multiplex over, or null after refusing the client.</summary>
    private async Task<Stream?> HandshakeAsync(Stream stream, CancellationToken cancellationToken)
    {
        if (Options.Certificate is { } certificate)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            try
            {
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateRequired = false,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (System.Security.Authentication.AuthenticationException e)
            {
                Refused(RemoteErrorCode.TlsFailure, e.Message);
                await ssl.DisposeAsync().ConfigureAwait(false);
                return null;
            }
            stream = ssl;
        }

        ushort version;
        byte[] clientNonce;
        try
        {
            ReceivedFrame first = await FrameCodec.ReadHandshakeAsync(stream, cancellationToken).ConfigureAwait(false);
            if (first.Type == FrameType.LaneAttach)
            {
                // §12.2: not a new client but a bulk lane for an authenticated connection.
                using (first)
                    await AttachAsLaneAsync(stream, first, cancellationToken).ConfigureAwait(false);
                return null;
            }
            using ReceivedFrame hello = FrameCodec.ExpectHandshake(first, FrameType.Hello);
            (ushort min, ushort max, clientNonce) = Messages.DecodeHello(hello.Payload);
            if (max < ProtocolLimits.MinVersion || min > ProtocolLimits.MaxVersion)
            {
                await RefuseAsync(stream, RemoteErrorCode.UnsupportedVersion,
                    $"the client speaks versions {min}–{max}; this server speaks {ProtocolLimits.MinVersion}–{ProtocolLimits.MaxVersion}.", cancellationToken).ConfigureAwait(false);
                return null;
            }
            version = Math.Min(max, ProtocolLimits.MaxVersion);
        }
        catch (RemoteProtocolException e) when (e.Code is not RemoteErrorCode.ConnectionLost)
        {
            await RefuseAsync(stream, e.Code, e.Message, cancellationToken).ConfigureAwait(false);
            return null;
        }

        byte[] serverNonce = RandomNumberGenerator.GetBytes(ProtocolLimits.NonceSize);
        await FrameCodec.WriteHandshakeAsync(stream, FrameType.Challenge, Messages.EncodeChallenge(version, serverNonce), cancellationToken).ConfigureAwait(false);
        try
        {
            using ReceivedFrame auth = FrameCodec.ExpectHandshake(await FrameCodec.ReadHandshakeAsync(stream, cancellationToken).ConfigureAwait(false), FrameType.Auth);
            byte[] proof = Messages.DecodeAuth(auth.Payload);
            byte[] expected = SharedSecret.ClientProof(Options.Secret, version, serverNonce, clientNonce);
            if (!CryptographicOperations.FixedTimeEquals(proof, expected))
            {
                await RefuseAsync(stream, RemoteErrorCode.AuthenticationFailed, "authentication failed: the proof of the shared secret is wrong (check the token file).", cancellationToken).ConfigureAwait(false);
                return null;
            }
        }
        catch (RemoteProtocolException e) when (e.Code is not RemoteErrorCode.ConnectionLost)
        {
            await RefuseAsync(stream, e.Code, e.Message, cancellationToken).ConfigureAwait(false);
            return null;
        }

        byte[] serverProof = SharedSecret.ServerProof(Options.Secret, version, serverNonce, clientNonce);
        // §12.1: from version 2 on, the welcome offers bulk lanes with a fresh session token (none when they are off).
        byte[] token = version >= ProtocolLimits.BulkLaneVersion ? OfferBulkLanes() : [];
        await FrameCodec.WriteHandshakeAsync(stream, FrameType.Welcome,
            Messages.EncodeWelcome(version, serverProof, ProtocolLimits.MaxFramePayload, Options.MaxKeysPerLookup, Options.MaxRecordBytes,
                token, token.Length == 0 ? 0 : Options.MaxBulkLanesPerConnection), cancellationToken).ConfigureAwait(false);
        _version = version;
        return stream;
    }

    private async Task RefuseAsync(Stream stream, RemoteErrorCode code, string message, CancellationToken cancellationToken)
    {
        Refused(code, message);
        try
        {
            await FrameCodec.WriteHandshakeAsync(stream, FrameType.Error, Messages.EncodeError(code, message), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone already; closing is all that is left.
        }
    }

    private void Refused(RemoteErrorCode code, string message)
    {
        _server.CountRejected();
        _closeReason = $"refused: {code}";
        ServerLog.HandshakeRefused(Logger, Id, _remote, code, message);
    }

    private async Task AcceptChannelsAsync(MultiplexingStream mux)
    {
        using var loop = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token, _server.Stopping);
        Task completion = mux.Completion;
        _ = completion.ContinueWith(_ => Close("the client closed the connection"), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        while (!loop.IsCancellationRequested)
        {
            await _slots.WaitAsync(loop.Token).ConfigureAwait(false);
            MultiplexingStream.Channel channel;
            try
            {
                channel = await mux.AcceptChannelAsync(ChannelName, loop.Token).ConfigureAwait(false);
            }
            catch
            {
                _slots.Release();
                throw;
            }
            Interlocked.Increment(ref _active);
            _server.RequestStarted();
            Touch();
            _ = Task.Run(() => ServeChannelAsync(channel));
            if (completion.IsCompleted)
                break;
        }
    }
}
