using System.IO.Pipelines;
using System.Net.Sockets;
using System.Security.Cryptography;
using KvTier.Keys;
using KvTier.Format;
using KvTier.Remote.Protocol;
using KvTier.Storage;
using Nerdbank.Streams;

namespace KvTier.Remote.Server;

// Bulk lanes (format-spec/protocol.md §12): the session token offered in the welcome, lane attach on a fresh
// connection, and get and put bodies on lanes. Concurrency: _lanes, _bulkToken and _lastLaneSequence are guarded by
// _laneLock; a lane's Send and Receive semaphores give one body at a time per direction; a lane that fails is closed
// and its slot freed, and the connection carries on.
internal sealed partial class ServerConnection
{
    private readonly Lock _laneLock = new();
    private BulkLane?[]? _lanes; // null: no lanes on this connection (version 1, or lanes off)
    private byte[]? _bulkToken;
    private uint[] _lastLaneSequence = []; // per lane number: the highest attach sequence accepted (§12.2)
    private int _nextLane;

    // §12.1: a fresh random token, valid while this connection lives; [] when the server's lanes are off.
    private byte[] OfferBulkLanes()
    {
        if (Options.MaxBulkLanesPerConnection == 0)
            return [];
        byte[] token = RandomNumberGenerator.GetBytes(ProtocolLimits.BulkTokenSize);
        lock (_laneLock)
        {
            _bulkToken = token;
            _lanes = new BulkLane?[Options.MaxBulkLanesPerConnection];
            _lastLaneSequence = new uint[Options.MaxBulkLanesPerConnection];
        }
        _server.RegisterBulkOwner(token, this);
        return token;
    }

    // §12.2, on the connection that arrived with lane-attach: find the owner by token, let it check the proof, answer
    // lane-ready. On success the stream and socket belong to the owner's lane from then on.
    private async Task AttachAsLaneAsync(Stream stream, ReceivedFrame attach, CancellationToken cancellationToken)
    {
        (byte[] token, int number, uint sequence, byte[] proof) = Messages.DecodeLaneAttach(attach.Payload);
        if (!_server.TryFindBulkOwner(token, out ServerConnection? owner))
        {
            _server.CountLaneFailure();
            await RefuseAsync(stream, RemoteErrorCode.BulkLaneRefused, "unknown or expired bulk session token.", cancellationToken).ConfigureAwait(false);
            return;
        }
        var lane = new BulkLane(number, stream, _socket);
        (RemoteErrorCode code, string? message) = owner.TryAttachLane(lane, sequence, proof);
        if (message is not null)
        {
            _server.CountLaneFailure();
            await RefuseAsync(stream, code, message, cancellationToken).ConfigureAwait(false);
            return;
        }
        _handedOff = true;
        _closeReason = $"attached as bulk lane {number} of connection {owner.Id}";
        try
        {
            await FrameCodec.WriteHandshakeAsync(stream, FrameType.LaneReady,
                Messages.EncodeLaneReady(SharedSecret.LaneReadyProof(Options.Secret, token, number, sequence), number), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            owner.FailLane(lane);
            return;
        }
        finally
        {
            lane.Send.Release(); // Held since TryAttachLane: no get body may precede lane-ready on the lane.
        }
        ServerLog.LaneAttached(Logger, owner.Id, number, _remote);
    }

    // §12.2 checks, on the owning connection. A lane number already attached is replaced: its client gave it up.
    private (RemoteErrorCode Code, string? Message) TryAttachLane(BulkLane lane, uint sequence, byte[] proof)
    {
        BulkLane? replaced;
        lock (_laneLock)
        {
            if (_lanes is null || _bulkToken is null || _closed.IsCancellationRequested)
                return (RemoteErrorCode.BulkLaneRefused, "unknown or expired bulk session token.");
            if (!CryptographicOperations.FixedTimeEquals(proof, SharedSecret.LaneProof(Options.Secret, _bulkToken, lane.Number, sequence)))
                return (RemoteErrorCode.AuthenticationFailed, "the lane-attach proof of the shared secret is wrong.");
            if (lane.Number >= _lanes.Length)
                return (RemoteErrorCode.BulkLaneRefused, $"lane {lane.Number} is outside this server's {_lanes.Length} lanes per connection.");
            // Per lane number, so that a client's attaches of different lanes may arrive in any order.
            if (sequence <= _lastLaneSequence[lane.Number])
                return (RemoteErrorCode.BulkLaneRefused, $"attach sequence {sequence} of lane {lane.Number} is not above {_lastLaneSequence[lane.Number]} (a replayed attach).");
            _lastLaneSequence[lane.Number] = sequence;
            lane.Send.Wait(0);
            replaced = _lanes[lane.Number];
            _lanes[lane.Number] = lane;
        }
        if (replaced is not null && replaced.Close())
            _server.LaneClosed();
        _server.LaneAttached();
        return (default, null);
    }

    // A lane whose peer misbehaved or vanished: closed, its slot freed; the connection and other lanes carry on.
    private void FailLane(BulkLane lane)
    {
        lock (_laneLock)
        {
            if (_lanes is not null && lane.Number < _lanes.Length && _lanes[lane.Number] == lane)
                _lanes[lane.Number] = null;
        }
        if (lane.Close())
        {
            _server.LaneClosed();
            _server.CountLaneFailure();
        }
    }

    private void CloseLanes()
    {
        byte[]? token;
        BulkLane?[]? lanes;
        lock (_laneLock)
        {
            token = _bulkToken;
            lanes = _lanes;
            _bulkToken = null;
            _lanes = null;
        }
        if (token is not null)
            _server.UnregisterBulkOwner(token);
        if (lanes is null)
            return;
        foreach (BulkLane? lane in lanes)
        {
            if (lane is not null && lane.Close())
                _server.LaneClosed();
        }
    }

    // A free lane for a get body, or null (then the body takes the multiplexer). The caller releases lane.Send.
    private BulkLane? TryTakeSendLane() => Volatile.Read(ref _lanes) is { } lanes ? BulkLane.TryTakeSendLane(lanes, ref _nextLane) : null;

    // §12.3 get: get-begin-lane on the channel, then [head][body] on the lane. With checkSectionsOf (a whole record,
    // leased with header verification), a SectionPipeline checks the sections ahead of the sender, on another core, and
    // the sender writes only bytes up to the last section checked, so the checks overlap the sending and no byte leaves
    // unchecked; a section that fails ends the body early (the lane is closed, the client fails the get) and the store
    // drops the record.
    private async Task SendBodyOnLaneAsync(PipeWriter output, BulkLane lane, uint requestId, ReadOnlyMemory<byte> body, byte kind, CancellationToken ct,
        RecordLease? checkSectionsOf = null)
    {
        SectionPipeline? checks = null;
        try
        {
            await FrameCodec.WriteAsync(output, FrameType.GetBeginLane, requestId, Messages.EncodeGetBeginLane(body.Length, kind, lane.Number), ct).ConfigureAwait(false);
            byte[] head = new byte[ProtocolLimits.LaneBodyHeaderSize];
            Messages.WriteLaneBodyHeader(head, requestId, body.Length);
            bool corrupt = false;
            try
            {
                await lane.Stream.WriteAsync(head, ct).ConfigureAwait(false);
                if (checkSectionsOf is null)
                {
                    await lane.Stream.WriteAsync(body, ct).ConfigureAwait(false);
                }
                else
                {
                    RecordLease lease = checkSectionsOf;
                    checks = new SectionPipeline(lease.Record.Sections, s => lease.TryGetSection(s.Layer, s.Kind, out _), body.Length);
                    long sent = 0;
                    while (sent < checks.SectionsEnd)
                    {
                        long through = await checks.CheckedThroughAsync(sent, ct).ConfigureAwait(false);
                        if (through < 0)
                        {
                            corrupt = true;
                            break;
                        }
                        await lane.Stream.WriteAsync(body[(int)sent..(int)through], ct).ConfigureAwait(false);
                        sent = through;
                    }
                    if (!corrupt)
                        await lane.Stream.WriteAsync(body[(int)sent..], ct).ConfigureAwait(false);
                }
                if (!corrupt)
                    await lane.Stream.FlushAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException or NotSupportedException)
            {
                // A lane half-written is no longer framed: closed; the client sees it end and fails the get.
                FailLane(lane);
                if (e is OperationCanceledException && !_closed.IsCancellationRequested)
                    throw;
                throw new RemoteProtocolException(RemoteErrorCode.BulkLaneFailed, $"bulk lane {lane.Number} failed while sending {body.Length} bytes: {e.Message}");
            }
            if (corrupt)
            {
                // The body stopped mid-way: the lane is no longer framed. Closed; the client's get fails with a lane error
                // and, retried, finds the record gone (the store dropped it when its section failed).
                FailLane(lane);
                throw new RemoteProtocolException(RemoteErrorCode.NotFound, $"key {checkSectionsOf!.Key}'s record failed its checksums and was dropped.");
            }
            _server.CountBulkSent();
        }
        finally
        {
            if (checks is not null)
            {
                // The worker reads the lease: it stops (if it has not finished) before the caller disposes the lease.
                checks.Stop();
                await ((Task)checks.Completion).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            lane.Send.Release();
        }
    }

    // §12.3 put-lane: the body arrives on the named lane as [head][body]; then it is verified and stored as in §7.1.
    // Any error answer closes the lane: its client may have sent (part of) a body that nobody will read.
    private async Task PutLaneAsync(MultiplexingStream.Channel channel, ReceivedFrame put, CancellationToken ct)
    {
        uint requestId = put.Header.RequestId;
        BulkLane? lane = LaneNamedBy(put.Payload);
        bool answered = false;
        try
        {
            (long length, ChunkKey announced, int number) = Messages.DecodePutLane(put.Payload, Options.MaxRecordBytes);
            if (lane is null)
                throw new RemoteProtocolException(RemoteErrorCode.BulkLaneFailed, $"put-lane names lane {number}, which is not attached.");
            await AcquirePutBudgetsAsync(length, ct).ConfigureAwait(false);
            try
            {
                byte[] body = GC.AllocateUninitializedArray<byte>((int)length);
                await lane.Receive.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    await ReadLaneBodyAsync(lane, requestId, body, ct).ConfigureAwait(false);
                }
                finally
                {
                    lane.Receive.Release();
                }
                _server.CountBulkReceived();
                await StoreBodyAsync(channel.Output, requestId, body, announced, ct).ConfigureAwait(false);
                answered = true;
            }
            finally
            {
                ReleasePutBudgets(length);
            }
        }
        finally
        {
            if (!answered && lane is not null)
                FailLane(lane);
        }
    }

    private async Task ReadLaneBodyAsync(BulkLane lane, uint requestId, byte[] body, CancellationToken ct)
    {
        long received = 0;
        try
        {
            byte[] head = new byte[ProtocolLimits.LaneBodyHeaderSize];
            await lane.Stream.ReadExactlyAsync(head, ct).ConfigureAwait(false);
            (uint id, long length) = Messages.ReadLaneBodyHeader(head, ProtocolLimits.MaxRecordBytes);
            if (id != requestId || length != body.Length)
                throw new RemoteProtocolException(RemoteErrorCode.BulkLaneFailed,
                    $"bulk lane {lane.Number} carries a body of {length} bytes for request {id}; put-lane {requestId} announced {body.Length}. Nothing was stored.");
            while (received < body.Length)
            {
                int n = await lane.Stream.ReadAsync(body.AsMemory((int)received), ct).ConfigureAwait(false);
                if (n == 0)
                    throw new EndOfStreamException();
                received += n;
            }
        }
        catch (RemoteProtocolException e) when (e.Code == RemoteErrorCode.MalformedFrame)
        {
            throw new RemoteProtocolException(RemoteErrorCode.BulkLaneFailed, $"bulk lane {lane.Number}: {e.Message} Nothing was stored.");
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or NotSupportedException)
        {
            throw new RemoteProtocolException(RemoteErrorCode.BulkLaneFailed,
                $"bulk lane {lane.Number} ended after {received} of the {body.Length} body bytes announced; nothing was stored.");
        }
    }

    // The attached lane a put-lane payload names, read before the payload is validated (so that a refused put-lane
    // still closes the lane its body went to); null when none is attached under that number.
    private BulkLane? LaneNamedBy(ReadOnlySpan<byte> payload)
    {
        if (payload.Length != Messages.PutLaneSize)
            return null;
        int number = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(payload[Messages.PutSize..]);
        lock (_laneLock)
        {
            if (_lanes is null || number >= _lanes.Length)
                return null;
            return _lanes[number] is { IsClosed: false } lane ? lane : null;
        }
    }
}
