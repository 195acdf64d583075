using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Cryptography;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Remote.Client;
using KvTier.Remote.Protocol;
using Nerdbank.Streams;

namespace KvTier.Remote;

// Bulk lanes (format-spec/protocol.md §12): attach at connect, one reader loop per lane for get bodies, put bodies
// written under the lane's Send semaphore. Concurrency: _lanes slots are swapped with Interlocked/Volatile; a lost
// lane fails the gets assigned to it (their waiters) and is re-attached in the background; _laneWaiters is concurrent.
public sealed partial class KvCacheClient
{
    private readonly ConcurrentDictionary<uint, LaneBodyWaiter> _laneWaiters = new();
    private readonly CancellationTokenSource _disposing = new();
    private readonly byte[] _bulkToken = [];
    private readonly BulkLane?[] _lanes = [];
    private int _laneSequence;
    private int _nextLane;
    private long _laneBodiesReceived;
    private long _laneBodiesSent;

    /// <summary>
    /// Bulk lanes attached now (format-spec/protocol.md §12): 0 when lanes are off on either side
    /// (<see cref="KvCacheClientOptions.BulkLaneThresholdBytes"/>, the server's <c>MaxBulkLanesPerConnection</c>) or the
    /// server speaks protocol version 1; then every body travels on the multiplexer.
    /// </summary>
    public int BulkLanesAttached
    {
        get
        {
            int n = 0;
            foreach (BulkLane? lane in _lanes)
            {
                if (lane is { IsClosed: false })
                    n++;
            }
            return n;
        }
    }

    /// <summary>Get bodies received on lanes (for tests and diagnostics).</summary>
    internal long LaneBodiesReceived => Interlocked.Read(ref _laneBodiesReceived);

    /// <summary>Put bodies sent on lanes and acknowledged (for tests and diagnostics).</summary>
    internal long LaneBodiesSent => Interlocked.Read(ref _laneBodiesSent);

    /// <summary>Test hook: called mid-body (half of it moved) with the lane's number, on gets and puts over lanes.</summary>
    internal Action<int>? LaneBodyMidway { get; set; }

    /// <summary>Test hook: closes lane <paramref name="number"/>'s connection as a network failure would.</summary>
    internal void BreakLane(int number) => Volatile.Read(ref _lanes[number])?.Close();

    private long MaxGetBody => Math.Min(_options.MaxRecordBytes, ProtocolLimits.MaxRecordBytes) + (4 << 20);

    // §12.2, at connect: every lane attached at once; one that fails is left out (its bodies take the multiplexer).
    private async Task AttachLanesAsync(CancellationToken cancellationToken)
    {
        if (_lanes.Length == 0)
            return;
        var attaches = new Task[_lanes.Length];
        for (int i = 0; i < attaches.Length; i++)
            attaches[i] = TryAttachLaneAsync(i, cancellationToken);
        await Task.WhenAll(attaches).ConfigureAwait(false);
    }

    private async Task TryAttachLaneAsync(int number, CancellationToken cancellationToken)
    {
        try
        {
            BulkLane lane = await AttachLaneAsync(number, cancellationToken).ConfigureAwait(false);
            if (_disposing.IsCancellationRequested)
            {
                lane.Close();
                return;
            }
            Volatile.Write(ref _lanes[number], lane);
            _ = Task.Run(() => ReadLaneAsync(lane));
        }
        catch (Exception e) when (e is RemoteProtocolException or IOException or SocketException or OperationCanceledException or ObjectDisposedException
            or System.Security.Authentication.AuthenticationException)
        {
            // No lane: bodies take the multiplexer, which always works.
        }
    }

    // §12.2: a new TCP (and TLS) connection whose first frame is lane-attach; lane-ready proves the server knows the secret.
    private async Task<BulkLane> AttachLaneAsync(int number, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        timeout.CancelAfter(_options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(_options.Host, _options.Port, timeout.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (_options.UseTls)
                stream = await AuthenticateTlsAsync(stream, _options, timeout.Token).ConfigureAwait(false);
            uint sequence = (uint)Interlocked.Increment(ref _laneSequence);
            byte[] proof = SharedSecret.LaneProof(_options.Secret, _bulkToken, number, sequence);
            await FrameCodec.WriteHandshakeAsync(stream, FrameType.LaneAttach, Messages.EncodeLaneAttach(_bulkToken, number, sequence, proof), timeout.Token).ConfigureAwait(false);
            using ReceivedFrame ready = FrameCodec.ExpectHandshake(await FrameCodec.ReadHandshakeAsync(stream, timeout.Token).ConfigureAwait(false), FrameType.LaneReady);
            (byte[] serverProof, int readyLane) = Messages.DecodeLaneReady(ready.Payload);
            if (readyLane != number)
                throw Messages.Malformed($"lane-ready names lane {readyLane}; lane {number} was attached.");
            if (!CryptographicOperations.FixedTimeEquals(serverProof, SharedSecret.LaneReadyProof(_options.Secret, _bulkToken, number, sequence)))
                throw new RemoteProtocolException(RemoteErrorCode.AuthenticationFailed, $"the server answering bulk lane {number} does not know the shared secret.");
            return new BulkLane(number, stream, socket);
        }
        catch
        {
            if (stream is not null)
                await stream.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            throw;
        }
    }

    // §12.3: get bodies arrive on a lane as [head][body]; each goes straight into its own array, to the get waiting for it.
    private async Task ReadLaneAsync(BulkLane lane)
    {
        byte[] head = new byte[ProtocolLimits.LaneBodyHeaderSize];
        LaneBodyWaiter? current = null;
        try
        {
            while (true)
            {
                current = null;
                lane.SetReceiveLowWater(1); // Between bodies: wake for the next head, however few bytes it comes in.
                try
                {
                    await lane.Stream.ReadExactlyAsync(head, _disposing.Token).ConfigureAwait(false);
                }
                catch (EndOfStreamException)
                {
                    return; // The server closed the lane between bodies.
                }
                (uint id, long length) = Messages.ReadLaneBodyHeader(head, MaxGetBody);
                if (!_laneWaiters.TryGetValue(id, out current))
                    return; // No get waits for it (it timed out): the body cannot be skipped safely, so the lane goes.
                byte[] body = current.Allocate((int)length);
                bool verified = await ReceiveLaneBodyAsync(lane, body, (int)length, current.WholeRecord).ConfigureAwait(false);
                Interlocked.Increment(ref _laneBodiesReceived);
                current.Done.TrySetResult((body, (int)length, lane.Number, verified));
            }
        }
        catch (Exception)
        {
            // A malformed head, a lane cut mid-body, or the client closing: the lane is lost below.
        }
        finally
        {
            LoseLane(lane, current);
        }
    }

    // Reads a body from the lane in steps, waking per LaneWakeBytes at most. For a whole record, once its header and
    // section table are in, a SectionPipeline hashes each section on a worker as soon as the section has arrived (while
    // it is still in cache), so the checks run beside the receive instead of taking turns with it on this thread. True
    // when every section checked; false leaves the checks to the caller (§7.2), which then reports what is wrong.
    private async Task<bool> ReceiveLaneBodyAsync(BulkLane lane, byte[] buffer, int length, bool wholeRecord)
    {
        Memory<byte> body = buffer.AsMemory(0, length);
        const int Step = 1 << 20;
        const int TableBytes = 256 << 10; // the header and section table of every realistic record fit in this
        SectionPipeline? checks = null;
        bool checking = wholeRecord;
        int received = 0;
        try
        {
            while (received < body.Length)
            {
                int want = Math.Min(Step, body.Length - received);
                Action<int>? midway = LaneBodyMidway;
                if (midway is not null && received < body.Length / 2)
                    want = Math.Min(want, body.Length / 2 - received); // the test hook runs with half the body read, exactly
                lane.SetReceiveLowWater(Math.Min(LaneWakeBytes, want)); // never more than is still due: the read completes
                int n = await lane.Stream.ReadAsync(body.Slice(received, want), _disposing.Token).ConfigureAwait(false);
                if (n == 0)
                    throw new EndOfStreamException();
                received += n;
                if (midway is not null && received == body.Length / 2)
                    midway(lane.Number);
                if (checks is not null)
                    checks.Arrived(received);
                else if (checking && received >= Math.Min(TableBytes, body.Length))
                    (checks, checking) = (StartSectionChecks(body, received), false);
            }
            return checks is not null && await checks.Completion.ConfigureAwait(false);
        }
        finally
        {
            // A lane cut mid-body: the worker stops at its next section. The buffer is never handed out then (the get
            // fails), so a section it is still hashing reads bytes nobody uses.
            checks?.Stop();
        }
    }

    // Bytes a lane's reader lets queue before it is woken (SO_RCVLOWAT, BulkLane.SetReceiveLowWater): 256 KiB wakes a
    // 32 MiB body's reader ~130 times instead of ~500 and keeps the sender streaming (1 MiB measured slower).
    private const int LaneWakeBytes = 256 << 10;

    // The section checks of a whole record whose first bytes (at least its header and section table) have arrived; null
    // when those do not parse, which leaves every check to the caller.
    private static SectionPipeline? StartSectionChecks(Memory<byte> body, int received)
    {
        ChunkRecord record;
        try
        {
            // Parse reads only the header and section table (checked against the header checksum) here.
            record = ChunkRecord.Parse(body);
        }
        catch (KvTierFormatException)
        {
            return null;
        }
        if (record.Header.TableEnd > received)
            return null; // A table longer than what has arrived: its checksum was taken over bytes still to come.
        ReadOnlyMemory<byte> bytes = body;
        return new SectionPipeline(record.Sections,
            s => System.IO.Hashing.XxHash3.HashToUInt64(bytes.Span.Slice((int)s.Offset, (int)s.Length)) == s.Checksum, received);
    }

    // A lane that ended or failed: out of the pool, the gets assigned to it failed (typed), re-attached in the background.
    private void LoseLane(BulkLane lane, LaneBodyWaiter? current)
    {
        bool removedNow = Interlocked.CompareExchange(ref _lanes[lane.Number], null, lane) == lane;
        lane.Close();
        var lost = new RemoteProtocolException(RemoteErrorCode.BulkLaneLost, $"bulk lane {lane.Number} to {Name} closed mid-body; the connection carries on.");
        current?.Done.TrySetException(lost);
        foreach (KeyValuePair<uint, LaneBodyWaiter> pending in _laneWaiters)
        {
            if (pending.Value.Lane == lane.Number)
                pending.Value.Done.TrySetException(lost);
        }
        if (removedNow && !_disposing.IsCancellationRequested && IsConnected)
            _ = Task.Run(() => ReattachLaneAsync(lane.Number));
    }

    private async Task ReattachLaneAsync(int number)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), _disposing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (Volatile.Read(ref _lanes[number]) is null && IsConnected)
            await TryAttachLaneAsync(number, CancellationToken.None).ConfigureAwait(false);
    }

    // A lane free to carry a put body, or null (then the body takes the multiplexer). The caller releases lane.Send.
    private BulkLane? TryTakeSendLane() => BulkLane.TryTakeSendLane(_lanes, ref _nextLane);

    private bool LanesUsable => _lanes.Length > 0 && BulkLanesAttached > 0;

    // §12.3 put-lane: the request on the channel, [head][body] on the lane, the reply on the channel. Any failure
    // loses the lane (both sides close it: a half-sent body cannot be resynchronised).
    private async Task<ChunkKey> PutOnLaneAsync(MultiplexingStream.Channel channel, uint id, BulkLane lane, ReadOnlyMemory<byte> record, ChunkKey key, CancellationToken ct)
    {
        bool ok = false;
        try
        {
            await FrameCodec.WriteAsync(channel.Output, FrameType.PutLane, id, Messages.EncodePutLane(record.Length, key, lane.Number), ct).ConfigureAwait(false);
            Exception? sendFailure = null;
            try
            {
                byte[] head = new byte[ProtocolLimits.LaneBodyHeaderSize];
                Messages.WriteLaneBodyHeader(head, id, record.Length);
                await lane.Stream.WriteAsync(head, ct).ConfigureAwait(false);
                if (LaneBodyMidway is { } midway)
                {
                    await lane.Stream.WriteAsync(record[..(record.Length / 2)], ct).ConfigureAwait(false);
                    midway(lane.Number);
                    await lane.Stream.WriteAsync(record[(record.Length / 2)..], ct).ConfigureAwait(false);
                }
                else
                {
                    await lane.Stream.WriteAsync(record, ct).ConfigureAwait(false);
                }
                await lane.Stream.FlushAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or NotSupportedException)
            {
                sendFailure = e; // The server's answer on the channel says why (or the lane just broke).
            }
            ReceivedFrame reply = await FrameCodec.ReadAsync(channel.Input, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false)
                ?? throw new RemoteProtocolException(sendFailure is null ? RemoteErrorCode.ConnectionLost : RemoteErrorCode.BulkLaneLost,
                    $"the server closed the channel of a put on bulk lane {lane.Number} without answering{(sendFailure is null ? "" : $"; the lane failed: {sendFailure.Message}")}.");
            using ReceivedFrame acknowledged = FrameCodec.Expect(reply, FrameType.PutOk);
            ChunkKey stored = Messages.DecodeKey(acknowledged.Payload, "put-ok");
            if (stored != key)
                throw Messages.Malformed($"the server acknowledged key {stored} for a record with key {key}.");
            ok = true;
            Interlocked.Increment(ref _laneBodiesSent);
            return stored;
        }
        finally
        {
            lane.Send.Release();
            if (!ok)
                LoseLane(lane, null);
        }
    }

    // §12.3 get-begin-lane: the body comes on the lane named, to the waiter registered before the request was sent.
    private async Task<(byte[] Body, int Length, bool Verified)> ReceiveBodyFromLaneAsync(ReceivedFrame begin, LaneBodyWaiter? waiter, byte expectedKind, CancellationToken ct)
    {
        long length;
        byte kind;
        int number;
        using (begin)
        {
            if (waiter is null)
                throw new RemoteProtocolException(RemoteErrorCode.UnexpectedFrame, "the server answered a plain get with get-begin-lane.");
            (length, kind, number) = Messages.DecodeGetBeginLane(begin.Payload, MaxGetBody);
        }
        if (kind != expectedKind)
            throw Messages.Malformed($"the server answered with body kind {kind}, not {expectedKind}.");
        waiter.Assign(number);
        if (number >= _lanes.Length || Volatile.Read(ref _lanes[number]) is not { IsClosed: false })
            waiter.Done.TrySetException(new RemoteProtocolException(RemoteErrorCode.BulkLaneLost, $"the server sent a body on bulk lane {number}, which is not attached."));
        (byte[] body, int received, int from, bool verified) = await waiter.Done.Task.WaitAsync(ct).ConfigureAwait(false);
        if (from != number || received != length)
            throw Messages.Malformed($"bulk lane {from} delivered {received} bytes; get-begin-lane announced {length} on lane {number}.");
        return (body, received, verified);
    }

    private void CloseLanes()
    {
        _disposing.Cancel();
        for (int i = 0; i < _lanes.Length; i++)
            Interlocked.Exchange(ref _lanes[i], null)?.Close();
    }
}
