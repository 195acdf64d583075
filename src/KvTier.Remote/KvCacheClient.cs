using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Remote.Client;
using KvTier.Remote.Protocol;
using KvTier.Remote.Server;
using Nerdbank.Streams;

namespace KvTier.Remote;

/// <summary>
/// A connection to a <c>kvtier serve</c> server (format-spec/protocol.md): authenticated, optionally over TLS, with
/// every operation on its own multiplexed channel, so that any number of operations may run at once. Large record
/// bodies (<see cref="KvCacheClientOptions.BulkLaneThresholdBytes"/>) travel on bulk lanes beside it when the server
/// offers them (§12), and on the multiplexer otherwise.
/// </summary>
/// <remarks>
/// Concurrency: every method may be called from any number of threads at once. Failures are typed
/// <see cref="RemoteProtocolException"/>s: <see cref="RemoteErrorCode.ConnectionRefused"/>,
/// <see cref="RemoteErrorCode.AuthenticationFailed"/>, <see cref="RemoteErrorCode.Timeout"/>,
/// <see cref="RemoteErrorCode.ConnectionLost"/>, protocol errors, or the server's error code. A miss is not a failure:
/// <see cref="GetAsync(ChunkKey, CancellationToken)"/> returns <c>null</c>, <see cref="DeleteAsync"/> false. Once the connection is lost
/// (<see cref="IsConnected"/> false) every operation fails; connect a new client.
/// </remarks>
public sealed partial class KvCacheClient : IAsyncDisposable
{
    private readonly KvCacheClientOptions _options;
    private readonly Stream _stream;
    private readonly MultiplexingStream _mux;
    private readonly int _maxKeys;
    private readonly long _serverMaxRecord;
    private long _nextRequestId;

    private KvCacheClient(KvCacheClientOptions options, Stream stream, MultiplexingStream mux, ushort version, Messages.Welcome welcome)
    {
        _options = options;
        _stream = stream;
        _mux = mux;
        ProtocolVersion = version;
        _maxKeys = welcome.MaxKeys;
        _serverMaxRecord = welcome.MaxRecordBytes;
        if (options.BulkLanesEnabled && welcome.MaxBulkLanes > 0)
        {
            _bulkToken = welcome.BulkToken;
            _lanes = new BulkLane?[Math.Min(options.BulkLanes, welcome.MaxBulkLanes)];
        }
    }

    /// <summary>The protocol version the connection speaks.</summary>
    public ushort ProtocolVersion { get; }

    /// <summary>The largest record the server accepts in a put.</summary>
    public long ServerMaxRecordBytes => _serverMaxRecord;

    /// <summary>Whether the connection is still up.</summary>
    public bool IsConnected => !_mux.Completion.IsCompleted;

    /// <summary>The server, as <c>kvtier://host:port</c>.</summary>
    public string Name => $"kvtier://{_options.Host}:{_options.Port}";

    /// <summary>Connects, negotiates the version and authenticates (§4, §5).</summary>
    /// <exception cref="RemoteProtocolException">Refused, timed out, TLS or authentication failed, or the versions do not overlap.</exception>
    public static async Task<KvCacheClient> ConnectAsync(KvCacheClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            try
            {
                await socket.ConnectAsync(options.Host, options.Port, timeout.Token).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new RemoteProtocolException(RemoteErrorCode.ConnectionRefused, $"could not connect to {options.Host}:{options.Port}: {e.Message}", e);
            }
            stream = new NetworkStream(socket, ownsSocket: true);
            if (options.UseTls)
                stream = await AuthenticateTlsAsync(stream, options, timeout.Token).ConfigureAwait(false);

            byte[] clientNonce = RandomNumberGenerator.GetBytes(ProtocolLimits.NonceSize);
            await FrameCodec.WriteHandshakeAsync(stream, FrameType.Hello, Messages.EncodeHello(ProtocolLimits.MinVersion, ProtocolLimits.MaxVersion, clientNonce), timeout.Token).ConfigureAwait(false);
            ushort version;
            byte[] serverNonce;
            using (ReceivedFrame challenge = FrameCodec.ExpectHandshake(await FrameCodec.ReadHandshakeAsync(stream, timeout.Token).ConfigureAwait(false), FrameType.Challenge))
                (version, serverNonce) = Messages.DecodeChallenge(challenge.Payload);
            if (version is < ProtocolLimits.MinVersion or > ProtocolLimits.MaxVersion)
                throw new RemoteProtocolException(RemoteErrorCode.UnsupportedVersion, $"the server chose protocol version {version}, outside {ProtocolLimits.MinVersion}–{ProtocolLimits.MaxVersion}.");
            await FrameCodec.WriteHandshakeAsync(stream, FrameType.Auth, SharedSecret.ClientProof(options.Secret, version, serverNonce, clientNonce), timeout.Token).ConfigureAwait(false);
            Messages.Welcome welcome;
            using (ReceivedFrame frame = FrameCodec.ExpectHandshake(await FrameCodec.ReadHandshakeAsync(stream, timeout.Token).ConfigureAwait(false), FrameType.Welcome))
                welcome = Messages.DecodeWelcome(frame.Payload, version);
            if (!CryptographicOperations.FixedTimeEquals(welcome.Proof, SharedSecret.ServerProof(options.Secret, version, serverNonce, clientNonce)))
                throw new RemoteProtocolException(RemoteErrorCode.AuthenticationFailed, $"the server at {options.Host}:{options.Port} does not know the shared secret.");

            MultiplexingStream mux = await MultiplexingStream.CreateAsync(stream, new MultiplexingStream.Options { ProtocolMajorVersion = 3, DefaultChannelReceivingWindowSize = ProtocolLimits.ChannelReceivingWindowBytes }, timeout.Token).ConfigureAwait(false);
            var client = new KvCacheClient(options, stream, mux, version, welcome);
            await client.AttachLanesAsync(timeout.Token).ConfigureAwait(false);
            return client;
        }
        catch (Exception e)
        {
            if (stream is not null)
                await stream.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            if (e is RemoteProtocolException)
                throw;
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new RemoteProtocolException(RemoteErrorCode.Timeout, $"connecting to {options.Host}:{options.Port} took longer than {options.ConnectTimeout}.", e);
            if (e is OperationCanceledException)
                throw;
            if (e is System.Security.Authentication.AuthenticationException)
                throw new RemoteProtocolException(RemoteErrorCode.TlsFailure, $"TLS with {options.Host}:{options.Port} failed: {e.Message}", e);
            throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, $"the connection to {options.Host}:{options.Port} failed during the handshake: {e.Message}", e);
        }
    }

    private static async Task<Stream> AuthenticateTlsAsync(Stream stream, KvCacheClientOptions options, CancellationToken cancellationToken)
    {
        string? pin = options.NormalizedPin();
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false, (_, certificate, _, errors) =>
        {
            if (pin is not null)
                return certificate is not null && string.Equals(Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256)), pin, StringComparison.Ordinal);
            return !options.ValidateServerCertificate || errors == SslPolicyErrors.None;
        });
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = options.TlsTargetHost ?? options.Host }, cancellationToken).ConfigureAwait(false);
        return ssl;
    }

    /// <summary>Stores one chunk record; returns its key once the server acknowledged it durable (§7.1).</summary>
    /// <exception cref="ArgumentException">The bytes are not a chunk record (checked before anything is sent).</exception>
    /// <exception cref="RemoteProtocolException">The put failed; the server stored nothing unless it acknowledged.</exception>
    public Task<ChunkKey> PutAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        ChunkKey key = HeaderKey(record);
        if (record.Length > _serverMaxRecord)
            throw new ArgumentException($"the record is {record.Length} bytes; the server accepts at most {_serverMaxRecord}.", nameof(record));
        return RunAsync(async (channel, id, ct) =>
        {
            if (record.Length >= _options.BulkLaneThresholdBytes && _options.BulkLanesEnabled && _lanes.Length > 0 && TryTakeSendLane() is { } lane)
                return await PutOnLaneAsync(channel, id, lane, record, key, ct).ConfigureAwait(false);
            FrameCodec.Write(channel.Output, FrameType.Put, id, Messages.EncodePut(record.Length, key));
            int chunk = _options.SendChunkBytes;
            for (int at = 0; at < record.Length; at += chunk)
            {
                int n = Math.Min(chunk, record.Length - at);
                await FrameCodec.WriteAsync(channel.Output, FrameType.Data, id, record.Slice(at, n), ct, end: at + n == record.Length).ConfigureAwait(false);
            }
            using ReceivedFrame ok = await FrameCodec.ReadExpectedAsync(channel.Input, FrameType.PutOk, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false);
            ChunkKey stored = Messages.DecodeKey(ok.Payload, "put-ok");
            if (stored != key)
                throw Messages.Malformed($"the server acknowledged key {stored} for a record with key {key}.");
            return stored;
        }, cancellationToken);
    }

    internal static ChunkKey HeaderKey(ReadOnlyMemory<byte> record)
    {
        try
        {
            return ChunkRecord.Parse(record).Header.Key;
        }
        catch (KvTierFormatException e)
        {
            throw new ArgumentException($"not a chunk record: {e.Message}", nameof(record), e);
        }
    }

    /// <summary>
    /// The whole record stored under <paramref name="key"/>, with its header, every section checksum and its key checked
    /// on arrival; <c>null</c> when the server does not hold it.
    /// </summary>
    /// <exception cref="RemoteProtocolException">The get failed, or what arrived failed its checks (<see cref="RemoteErrorCode.InvalidRecord"/>).</exception>
    public Task<byte[]?> GetAsync(ChunkKey key, CancellationToken cancellationToken = default) =>
        RunAsync<byte[]?>(async (channel, id, ct) =>
        {
            (byte[]? body, int length, bool verified) = await RequestBodyAsync(channel, id, key, 0, 0, Messages.GetWhole, ExactArray, ct).ConfigureAwait(false);
            if (body is null)
                return null;
            CheckWholeRecord(body, length, verified, key);
            return body;
        }, cancellationToken);

    /// <summary>
    /// As <see cref="GetAsync(ChunkKey, CancellationToken)"/>, into an array rented from <paramref name="pool"/>: a caller
    /// that reads many large records reuses the same memory instead of having a new array (and, for large records, new
    /// pages from the system) for each one. Dispose the result to give the array back.
    /// </summary>
    /// <param name="key">The record's key.</param>
    /// <param name="pool">Where the body's array comes from and goes back to, for example <c>ArrayPool&lt;byte&gt;.Shared</c>.</param>
    /// <param name="cancellationToken">Cancels the get.</param>
    /// <returns>The checked record, or <c>null</c> when the server does not hold it.</returns>
    /// <exception cref="RemoteProtocolException">As for <see cref="GetAsync(ChunkKey, CancellationToken)"/>.</exception>
    public Task<PooledRecord?> GetAsync(ChunkKey key, ArrayPool<byte> pool, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return RunAsync<PooledRecord?>(async (channel, id, ct) =>
        {
            (byte[]? body, int length, bool verified) = await RequestBodyAsync(channel, id, key, 0, 0, Messages.GetWhole, pool.Rent, ct).ConfigureAwait(false);
            if (body is null)
                return null;
            var record = new PooledRecord(pool, body, length);
            try
            {
                CheckWholeRecord(body, length, verified, key);
            }
            catch
            {
                record.Dispose();
                throw;
            }
            return record;
        }, cancellationToken);
    }

    // The body's array when the caller keeps it: exactly its length.
    private static readonly Func<int, byte[]> ExactArray = static length => GC.AllocateUninitializedArray<byte>(length);

    // §7.2: a whole-record body is one chunk record with the key asked for, every section checksum right (already
    // checked on arrival when it came on a lane, §12.3).
    private static void CheckWholeRecord(byte[] body, int length, bool sectionsVerified, ChunkKey key)
    {
        try
        {
            ChunkRecord record = ChunkRecord.Parse(body.AsMemory(0, length));
            if (!sectionsVerified)
            {
                foreach (SectionEntry s in record.Sections)
                    _ = record.GetPayload(s.Layer, s.Kind);
            }
            if (record.Header.Key != key)
                throw new RemoteProtocolException(RemoteErrorCode.InvalidRecord, $"the server returned a record with key {record.Header.Key} for key {key}.");
        }
        catch (KvTierFormatException e)
        {
            throw new RemoteProtocolException(RemoteErrorCode.InvalidRecord, $"the record for key {key} failed its checks on arrival: {e.Message}", e);
        }
    }

    /// <summary>
    /// The header, section table and the sections of layers <paramref name="firstLayer"/> to
    /// <paramref name="firstLayer"/> + <paramref name="layerCount"/> − 1 of the record under <paramref name="key"/>
    /// (§7.2), each section checked against its checksum; <c>null</c> when the server does not hold it.
    /// </summary>
    /// <exception cref="RemoteProtocolException">The get failed; <see cref="RemoteErrorCode.LayerOutOfRange"/> when the record has fewer layers.</exception>
    public Task<RemoteLayerRange?> GetLayersAsync(ChunkKey key, int firstLayer, int layerCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstLayer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstLayer, ushort.MaxValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(layerCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(layerCount, ushort.MaxValue);
        return RunAsync<RemoteLayerRange?>(async (channel, id, ct) =>
        {
            (byte[]? body, _, _) = await RequestBodyAsync(channel, id, key, firstLayer, layerCount, Messages.GetLayers, ExactArray, ct).ConfigureAwait(false);
            return body is null ? null : Messages.DecodeLayerBody(key, body, 2 * layerCount);
        }, cancellationToken);
    }

    // §7.2 get, or §12.3 get-bulk when lanes are attached (the waiter registered before the request leaves).
    // Verified: every section checksum of a whole record was already checked as it arrived on a lane.
    // The body is the first Length bytes of the array allocate gave (exactly that long for ExactArray).
    private async Task<(byte[]? Body, int Length, bool Verified)> RequestBodyAsync(MultiplexingStream.Channel channel, uint id, ChunkKey key, int firstLayer, int layerCount, byte expectedKind,
        Func<int, byte[]> allocate, CancellationToken ct)
    {
        LaneBodyWaiter? waiter = null;
        if (_options.BulkLanesEnabled && LanesUsable)
        {
            waiter = new LaneBodyWaiter(expectedKind == Messages.GetWhole, allocate);
            _laneWaiters[id] = waiter;
        }
        try
        {
            if (waiter is null)
                await FrameCodec.WriteAsync(channel.Output, FrameType.Get, id, Messages.EncodeGet(key, firstLayer, layerCount), ct).ConfigureAwait(false);
            else
                await FrameCodec.WriteAsync(channel.Output, FrameType.GetBulk, id, Messages.EncodeGetBulk(key, firstLayer, layerCount, _options.BulkLaneThresholdBytes), ct).ConfigureAwait(false);
            return await ReadGetBodyAsync(channel, expectedKind, waiter, allocate, ct).ConfigureAwait(false);
        }
        finally
        {
            if (waiter is not null)
                _laneWaiters.TryRemove(id, out _);
        }
    }

    private async Task<(byte[]? Body, int Length, bool Verified)> ReadGetBodyAsync(MultiplexingStream.Channel channel, byte expectedKind, LaneBodyWaiter? waiter,
        Func<int, byte[]> allocate, CancellationToken ct)
    {
        ReceivedFrame? first = await FrameCodec.ReadAsync(channel.Input, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false)
            ?? throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, "the server closed the channel without answering.");
        if (first.Type == FrameType.Error)
        {
            using (first)
            {
                (RemoteErrorCode code, string message) = Messages.DecodeError(first.Payload);
                if (code == RemoteErrorCode.NotFound)
                    return (null, 0, false);
                throw new RemoteProtocolException(code, message);
            }
        }
        if (first.Type == FrameType.GetBeginLane)
            return await ReceiveBodyFromLaneAsync(first, waiter, expectedKind, ct).ConfigureAwait(false);
        long length;
        byte kind;
        using (ReceivedFrame begin = FrameCodec.Expect(first, FrameType.GetBegin))
            // A layer-range body adds 16 bytes per section and 8 of heads to the bytes it carries: allow for them.
            (length, kind) = Messages.DecodeGetBegin(begin.Payload, Math.Min(_options.MaxRecordBytes, ProtocolLimits.MaxRecordBytes) + (4 << 20));
        if (kind != expectedKind)
            throw Messages.Malformed($"the server answered with body kind {kind}, not {expectedKind}.");
        byte[] body = allocate((int)length);
        long received = 0;
        while (true)
        {
            using ReceivedFrame frame = FrameCodec.Expect(
                await FrameCodec.ReadAsync(channel.Input, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false)
                    ?? throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, $"the get body ended after {received} of {length} bytes."),
                FrameType.Data);
            if (frame.Header.PayloadLength > length - received)
                throw new RemoteProtocolException(RemoteErrorCode.LengthMismatch, $"the get body runs past the {length} bytes announced.");
            frame.Payload.CopyTo(body.AsSpan((int)received));
            received += frame.Header.PayloadLength;
            if (frame.Header.End)
                break;
        }
        if (received != length)
            throw new RemoteProtocolException(RemoteErrorCode.LengthMismatch, $"the get body ended after {received} of the {length} bytes announced.");
        return (body, (int)length, false);
    }

    /// <summary>For each key, whether the server holds it (§7.3). Lists longer than the server's limit are split into several requests.</summary>
    public async Task<bool[]> ContainsAsync(IReadOnlyList<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var present = new bool[keys.Count];
        for (int start = 0; start < keys.Count; start += _maxKeys)
        {
            ChunkKey[] batch = Slice(keys, start, Math.Min(_maxKeys, keys.Count - start));
            bool[] part = await RunAsync(async (channel, id, ct) =>
            {
                await FrameCodec.WriteAsync(channel.Output, FrameType.Contains, id, Messages.EncodeKeys(batch), ct).ConfigureAwait(false);
                using ReceivedFrame reply = await FrameCodec.ReadExpectedAsync(channel.Input, FrameType.ContainsReply, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false);
                return Messages.DecodeContainsReply(reply.Payload, batch.Length);
            }, cancellationToken).ConfigureAwait(false);
            part.CopyTo(present, start);
        }
        return present;
    }

    /// <summary>How many of <paramref name="keys"/>, from the first, the server holds (§7.4).</summary>
    public async Task<int> LongestPrefixAsync(IReadOnlyList<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        int total = 0;
        for (int start = 0; start < keys.Count; start += _maxKeys)
        {
            ChunkKey[] batch = Slice(keys, start, Math.Min(_maxKeys, keys.Count - start));
            uint n = await RunAsync(async (channel, id, ct) =>
            {
                await FrameCodec.WriteAsync(channel.Output, FrameType.LongestPrefix, id, Messages.EncodeKeys(batch), ct).ConfigureAwait(false);
                using ReceivedFrame reply = await FrameCodec.ReadExpectedAsync(channel.Input, FrameType.LongestPrefixReply, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false);
                return Messages.DecodeU32(reply.Payload, "longest-prefix reply");
            }, cancellationToken).ConfigureAwait(false);
            if (n > (uint)batch.Length)
                throw Messages.Malformed($"the server reported a prefix of {n} for {batch.Length} keys.");
            total += (int)n;
            if (n < batch.Length)
                break;
        }
        return total;
    }

    /// <summary>Deletes the record under <paramref name="key"/>; true if the server held it (durable on return, §7.5).</summary>
    public Task<bool> DeleteAsync(ChunkKey key, CancellationToken cancellationToken = default) =>
        RunAsync(async (channel, id, ct) =>
        {
            await FrameCodec.WriteAsync(channel.Output, FrameType.Delete, id, Messages.EncodeKey(key), ct).ConfigureAwait(false);
            using ReceivedFrame reply = await FrameCodec.ReadExpectedAsync(channel.Input, FrameType.DeleteReply, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false);
            return Messages.DecodeFlag(reply.Payload, "delete reply");
        }, cancellationToken);

    /// <summary>The server's store statistics and connection counters (§7.6).</summary>
    public Task<RemoteStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) =>
        RunAsync(async (channel, id, ct) =>
        {
            await FrameCodec.WriteAsync(channel.Output, FrameType.Stats, id, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
            using ReceivedFrame reply = await FrameCodec.ReadExpectedAsync(channel.Input, FrameType.StatsReply, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false);
            return Messages.DecodeStats(reply.Payload);
        }, cancellationToken);

    /// <summary>The server's health (§7.7): whether it accepts requests, its uptime and record count.</summary>
    public Task<RemoteHealth> GetHealthAsync(CancellationToken cancellationToken = default) =>
        RunAsync(async (channel, id, ct) =>
        {
            await FrameCodec.WriteAsync(channel.Output, FrameType.Health, id, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
            using ReceivedFrame reply = await FrameCodec.ReadExpectedAsync(channel.Input, FrameType.HealthReply, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false);
            return Messages.DecodeHealth(reply.Payload);
        }, cancellationToken);

    /// <summary>Up to <paramref name="limit"/> records in key order, starting after <paramref name="after"/> (or at the first) (§7.8).</summary>
    public Task<RemoteListPage> ListAsync(ChunkKey? after = null, int limit = ProtocolLimits.MaxListPage, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, ProtocolLimits.MaxListPage);
        return RunAsync(async (channel, id, ct) =>
        {
            await FrameCodec.WriteAsync(channel.Output, FrameType.List, id, Messages.EncodeList(after, limit), ct).ConfigureAwait(false);
            using ReceivedFrame reply = await FrameCodec.ReadExpectedAsync(channel.Input, FrameType.ListReply, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false);
            (var entries, bool more) = Messages.DecodeListReply(reply.Payload, limit);
            return new RemoteListPage(entries, more);
        }, cancellationToken);
    }

    /// <summary>Closes the connection; operations in flight fail with <see cref="RemoteErrorCode.ConnectionLost"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        CloseLanes();
        await _mux.DisposeAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private static ChunkKey[] Slice(IReadOnlyList<ChunkKey> keys, int start, int count)
    {
        var batch = new ChunkKey[count];
        for (int i = 0; i < count; i++)
            batch[i] = keys[start + i];
        return batch;
    }

    // One request: a channel, the exchange, the channel closed; failures mapped to typed errors.
    private async Task<T> RunAsync<T>(Func<MultiplexingStream.Channel, uint, CancellationToken, Task<T>> exchange, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        uint id = (uint)Interlocked.Increment(ref _nextRequestId);
        MultiplexingStream.Channel? channel = null;
        try
        {
            channel = await _mux.OfferChannelAsync(ServerConnection.ChannelName, timeout.Token).ConfigureAwait(false);
            T result = await exchange(channel, id, timeout.Token).ConfigureAwait(false);
            return result;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RemoteProtocolException(RemoteErrorCode.Timeout, $"the request to {Name} took longer than {_options.RequestTimeout}.", e);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or MultiplexingProtocolException or SocketException or InvalidOperationException)
        {
            throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, $"the connection to {Name} failed: {e.Message}", e);
        }
        finally
        {
            if (channel is not null)
            {
                try
                {
                    await channel.Output.CompleteAsync().ConfigureAwait(false);
                    await channel.Input.CompleteAsync().ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Closing a channel of a failed connection: nothing left to do.
                }
                channel.Dispose();
            }
        }
    }
}
