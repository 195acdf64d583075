using System.IO.Pipelines;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Remote.Protocol;
using KvTier.Storage;
using Nerdbank.Streams;

namespace KvTier.Remote.Server;

// The operations (format-spec/protocol.md §7): one request per channel, answered, then the channel is closed.
internal sealed partial class ServerConnection
{
    private async Task ServeChannelAsync(MultiplexingStream.Channel channel)
    {
        uint requestId = 0;
        FrameType type = default;
        using var request = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
        request.CancelAfter(Options.RequestTimeout);
        CancellationToken ct = request.Token;
        try
        {
            using ReceivedFrame? frame = await FrameCodec.ReadAsync(channel.Input, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false);
            if (frame is null)
                return; // The client opened a channel and closed it without a request.
            requestId = frame.Header.RequestId;
            type = frame.Type;
            // A channel accepted before a graceful stop began is served to the end, even if its request arrives after.
            switch (frame.Type)
            {
                case FrameType.Put:
                    await PutAsync(channel, frame, ct).ConfigureAwait(false);
                    break;
                case FrameType.Get:
                    await GetAsync(channel.Output, frame, ct).ConfigureAwait(false);
                    break;
                case FrameType.GetBulk when _version >= ProtocolLimits.BulkLaneVersion:
                    await GetAsync(channel.Output, frame, ct).ConfigureAwait(false);
                    break;
                case FrameType.PutLane when _version >= ProtocolLimits.BulkLaneVersion:
                    await PutLaneAsync(channel, frame, ct).ConfigureAwait(false);
                    break;
                case FrameType.Contains:
                {
                    ChunkKey[] keys = Messages.DecodeKeys(frame.Payload, Options.MaxKeysPerLookup);
                    var present = new bool[keys.Length];
                    for (int i = 0; i < keys.Length; i++)
                        present[i] = _server.Store.Contains(keys[i]);
                    await FrameCodec.WriteAsync(channel.Output, FrameType.ContainsReply, requestId, Messages.EncodeContainsReply(present), ct).ConfigureAwait(false);
                    break;
                }
                case FrameType.LongestPrefix:
                {
                    ChunkKey[] keys = Messages.DecodeKeys(frame.Payload, Options.MaxKeysPerLookup);
                    uint n = (uint)_server.Store.LongestPrefix(keys);
                    await FrameCodec.WriteAsync(channel.Output, FrameType.LongestPrefixReply, requestId, Messages.EncodeU32(n), ct).ConfigureAwait(false);
                    break;
                }
                case FrameType.Delete:
                {
                    ChunkKey key = Messages.DecodeKey(frame.Payload, "delete");
                    bool deleted = await _server.Store.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
                    await FrameCodec.WriteAsync(channel.Output, FrameType.DeleteReply, requestId, new[] { deleted ? (byte)1 : (byte)0 }, ct).ConfigureAwait(false);
                    break;
                }
                case FrameType.Stats:
                    RequireEmpty(frame, "stats");
                    await FrameCodec.WriteAsync(channel.Output, FrameType.StatsReply, requestId, Messages.EncodeStats(_server.GetStatistics()), ct).ConfigureAwait(false);
                    break;
                case FrameType.Health:
                    RequireEmpty(frame, "health");
                    var health = new RemoteHealth(_version, _server.IsAccepting, _server.Uptime, _server.Store.GetStatistics().Entries);
                    await FrameCodec.WriteAsync(channel.Output, FrameType.HealthReply, requestId, Messages.EncodeHealth(health), ct).ConfigureAwait(false);
                    break;
                case FrameType.List:
                    await ListAsync(channel.Output, frame, ct).ConfigureAwait(false);
                    break;
                default:
                    throw new RemoteProtocolException(RemoteErrorCode.UnexpectedFrame, $"frame type 0x{(byte)frame.Type:x2} does not start a request.");
            }
        }
        catch (RemoteProtocolException e) when (e.Code is not RemoteErrorCode.ConnectionLost)
        {
            if (e.Code is not RemoteErrorCode.NotFound)
            {
                _server.CountRejected();
                ServerLog.RequestRefused(Logger, Id, requestId, type.ToString(), e.Code, e.Message);
            }
            await TryWriteErrorAsync(channel.Output, requestId, e.Code, e.Message).ConfigureAwait(false);
        }
        catch (KvStoreException e)
        {
            RemoteErrorCode code = e.Kind switch
            {
                StoreErrorKind.InvalidRecord => RemoteErrorCode.InvalidRecord,
                StoreErrorKind.RecordTooLarge => RemoteErrorCode.LimitExceeded,
                _ => RemoteErrorCode.StoreFailure,
            };
            ServerLog.RequestRefused(Logger, Id, requestId, type.ToString(), code, e.Message);
            await TryWriteErrorAsync(channel.Output, requestId, code, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_closed.IsCancellationRequested)
        {
            _server.CountRejected();
            ServerLog.RequestRefused(Logger, Id, requestId, type.ToString(), RemoteErrorCode.ServerTimeout, "the request timed out.");
            await TryWriteErrorAsync(channel.Output, requestId, RemoteErrorCode.ServerTimeout, $"the request took longer than {Options.RequestTimeout}.").ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or RemoteProtocolException or MultiplexingProtocolException)
        {
            // The channel or the connection is gone: nothing to answer, nothing was stored.
        }
        catch (Exception e)
        {
            ServerLog.RequestFailed(Logger, Id, requestId, type.ToString(), e);
            await TryWriteErrorAsync(channel.Output, requestId, RemoteErrorCode.Internal, "internal server error.").ConfigureAwait(false);
        }
        finally
        {
            await CloseChannelAsync(channel).ConfigureAwait(false);
            Touch();
            _server.RequestEnded();
            Interlocked.Decrement(ref _active);
            try
            {
                _slots.Release();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static void RequireEmpty(ReceivedFrame frame, string what)
    {
        if (frame.Header.PayloadLength != 0)
            throw Messages.Malformed($"a {what} request carries {frame.Header.PayloadLength} payload bytes; it must carry none.");
    }

    private async Task CloseChannelAsync(MultiplexingStream.Channel channel)
    {
        try
        {
            await channel.Output.CompleteAsync().ConfigureAwait(false);
            await channel.Input.CompleteAsync().ConfigureAwait(false);
            // Give the reply time to leave before the channel is torn down; the client closes its end after reading it.
            await channel.Completion.WaitAsync(TimeSpan.FromSeconds(2), _closed.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A client that vanished or never closes: the channel is disposed below either way.
        }
        channel.Dispose();
    }

    private static async Task TryWriteErrorAsync(PipeWriter output, uint requestId, RemoteErrorCode code, string message)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await FrameCodec.WriteErrorAsync(output, requestId, code, message, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The reader is gone or stopped reading; the channel is closed next.
        }
    }

    // §7.1: put frame, data frames until End, then the record is verified and stored, or nothing is stored.
    private async Task PutAsync(MultiplexingStream.Channel channel, ReceivedFrame put, CancellationToken ct)
    {
        (long length, ChunkKey announced) = Messages.DecodePut(put.Payload, Options.MaxRecordBytes);
        uint requestId = put.Header.RequestId;
        await AcquirePutBudgetsAsync(length, ct).ConfigureAwait(false);
        try
        {
            byte[] body = GC.AllocateUninitializedArray<byte>((int)length);
            long received = 0;
            while (true)
            {
                using ReceivedFrame frame = await FrameCodec.ReadAsync(channel.Input, ProtocolLimits.MaxFramePayload, ct).ConfigureAwait(false)
                    ?? throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, $"the put body ended after {received} of {length} bytes; nothing was stored.");
                if (frame.Type != FrameType.Data)
                    throw new RemoteProtocolException(RemoteErrorCode.UnexpectedFrame, $"a put body carries a frame of type 0x{(byte)frame.Type:x2}.");
                if (frame.Header.RequestId != requestId)
                    throw Messages.Malformed("a data frame carries another request's id.");
                if (frame.Header.PayloadLength > length - received)
                    throw new RemoteProtocolException(RemoteErrorCode.LengthMismatch, $"the put body runs past the {length} bytes announced.");
                frame.Payload.CopyTo(body.AsSpan((int)received));
                received += frame.Header.PayloadLength;
                if (frame.Header.End)
                    break;
            }
            if (received != length)
                throw new RemoteProtocolException(RemoteErrorCode.LengthMismatch, $"the put body ended after {received} of the {length} bytes announced.");
            await StoreBodyAsync(channel.Output, requestId, body, announced, ct).ConfigureAwait(false);
        }
        finally
        {
            ReleasePutBudgets(length);
        }
    }

    // §7.1: the connection's, then the global put budget, before any body buffer exists; Busy if the global one stays full.
    private async Task AcquirePutBudgetsAsync(long length, CancellationToken ct)
    {
        await _putBudget.AcquireAsync(length, ct).ConfigureAwait(false);
        try
        {
            await _server.PutBudget.AcquireAsync(length, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_closed.IsCancellationRequested)
        {
            _putBudget.Release(length);
            throw new RemoteProtocolException(RemoteErrorCode.Busy, $"the server's put memory budget stayed full for {Options.RequestTimeout}.");
        }
        catch
        {
            _putBudget.Release(length);
            throw;
        }
    }

    private void ReleasePutBudgets(long length)
    {
        _server.PutBudget.Release(length);
        _putBudget.Release(length);
    }

    // §7.1: a whole body, parsed as exactly one record with the announced key, stored durably, then put-ok.
    private async Task StoreBodyAsync(PipeWriter output, uint requestId, byte[] body, ChunkKey announced, CancellationToken ct)
    {
        ChunkRecord record;
        try
        {
            record = ChunkRecord.Parse(body, allowTrailingBytes: false);
        }
        catch (KvTierFormatException e)
        {
            throw new RemoteProtocolException(RemoteErrorCode.InvalidRecord, $"the put body is not a valid chunk record: {e.Message}");
        }
        if (record.Header.Key != announced)
            throw new RemoteProtocolException(RemoteErrorCode.InvalidRecord, $"the record's key {record.Header.Key} differs from the key announced, {announced}.");

        // Verified in full by the store (every section checksum) before anything is written; durable on return.
        ChunkKey stored = await _server.Store.PutAsync(body, CancellationToken.None).ConfigureAwait(false);
        ServerLog.Stored(Logger, Id, stored.ToString(), body.Length);
        await FrameCodec.WriteAsync(output, FrameType.PutOk, requestId, Messages.EncodeKey(stored), ct).ConfigureAwait(false);
    }

    // §7.2: get-begin, then the body in data frames of at most SendChunkBytes; End on the last. §12.3: for get-bulk, a
    // body of at least the request's threshold goes on a free lane when there is one.
    private async Task GetAsync(PipeWriter output, ReceivedFrame get, CancellationToken ct)
    {
        ChunkKey key;
        int firstLayer, layerCount, laneThreshold = int.MaxValue;
        if (get.Type == FrameType.GetBulk)
            (key, firstLayer, layerCount, laneThreshold) = Messages.DecodeGetBulk(get.Payload);
        else
            (key, firstLayer, layerCount) = Messages.DecodeGet(get.Payload);
        uint requestId = get.Header.RequestId;
        // Header verification: the header and section table are checked now, each section's checksum before the section
        // is sent (whole records) or copied (layer ranges), so no byte is served unchecked and a whole record on a lane
        // is checked while it is being sent rather than in a pass of its own first.
        if (!_server.Store.TryGet(key, ReadVerification.Header, out RecordLease? lease))
            throw new RemoteProtocolException(RemoteErrorCode.NotFound, $"key {key} is not stored.");
        using (lease)
        {
            ReadOnlyMemory<byte> body;
            byte kind;
            if (layerCount == 0)
            {
                body = lease.Bytes;
                kind = Messages.GetWhole;
                if (body.Length >= laneThreshold && TryTakeSendLane() is { } wholeLane)
                {
                    await SendBodyOnLaneAsync(output, wholeLane, requestId, body, kind, ct, checkSectionsOf: lease).ConfigureAwait(false);
                    return;
                }
                foreach (SectionEntry section in lease.Record.Sections)
                {
                    if (!lease.TryGetSection(section.Layer, section.Kind, out _))
                        throw new RemoteProtocolException(RemoteErrorCode.NotFound, $"key {key}'s record failed its checksums and was dropped.");
                }
            }
            else
            {
                body = LayerBody(lease, firstLayer, layerCount);
                kind = Messages.GetLayers;
            }

            if (body.Length >= laneThreshold && TryTakeSendLane() is { } lane)
            {
                await SendBodyOnLaneAsync(output, lane, requestId, body, kind, ct).ConfigureAwait(false);
                return;
            }
            FrameCodec.Write(output, FrameType.GetBegin, requestId, Messages.EncodeGetBegin(body.Length, kind));
            int chunk = Options.SendChunkBytes;
            for (int at = 0; at < body.Length; at += chunk)
            {
                int n = Math.Min(chunk, body.Length - at);
                // Flushed per frame: the multiplexer's window holds back a reader that stops reading, so memory stays bounded.
                await FrameCodec.WriteAsync(output, FrameType.Data, requestId, body.Slice(at, n), ct, end: at + n == body.Length).ConfigureAwait(false);
            }
        }
    }

    private static byte[] LayerBody(RecordLease lease, int firstLayer, int layerCount)
    {
        ChunkRecord record = lease.Record;
        int layers = record.Header.Layout.Layers;
        if (firstLayer >= layers || layerCount > layers - firstLayer)
            throw new RemoteProtocolException(RemoteErrorCode.LayerOutOfRange, $"layers {firstLayer}..{firstLayer + layerCount - 1} are outside the record's {layers} layers.");
        int tableEnd = (int)record.Header.TableEnd;
        long length = 4 + tableEnd + 4;
        var sections = new List<SectionEntry>(layerCount * 2);
        foreach (SectionEntry s in record.Sections)
        {
            if (s.Layer >= firstLayer && s.Layer < firstLayer + layerCount)
            {
                if (!lease.TryGetSection(s.Layer, s.Kind, out _))
                    throw new RemoteProtocolException(RemoteErrorCode.NotFound, $"key {lease.Key}: layer {s.Layer} failed its checksum; the record was dropped.");
                sections.Add(s);
                length += 16 + s.Length;
            }
        }
        sections.Sort((a, b) => a.Index.CompareTo(b.Index));
        var body = new byte[length];
        Span<byte> w = body;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(w, (uint)tableEnd);
        lease.Bytes.Span[..tableEnd].CopyTo(w[4..]);
        int at = 4 + tableEnd;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(w[at..], (uint)sections.Count);
        at += 4;
        foreach (SectionEntry s in sections)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(w[at..], (ushort)s.Layer);
            w[at + 2] = (byte)s.Kind;
            w[at + 3] = 0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(w[(at + 4)..], (uint)s.Length);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(w[(at + 8)..], s.Checksum);
            at += 16;
            lease.Bytes.Span.Slice((int)s.Offset, (int)s.Length).CopyTo(w[at..]);
            at += (int)s.Length;
        }
        return body;
    }

    // §7.8: a page of the store's records in key order, after the key given.
    private async Task ListAsync(PipeWriter output, ReceivedFrame list, CancellationToken ct)
    {
        (ChunkKey? after, int limit) = Messages.DecodeList(list.Payload);
        IReadOnlyList<StoredEntry> all = _server.Store.Enumerate();
        int start = 0;
        if (after is { } a)
        {
            int lo = 0, hi = all.Count;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (all[mid].Key.CompareTo(a) <= 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            start = lo;
        }
        int count = Math.Min(limit, all.Count - start);
        bool more = start + count < all.Count;
        await FrameCodec.WriteAsync(output, FrameType.ListReply, list.Header.RequestId, Messages.EncodeListReply(all, start, count, more), ct).ConfigureAwait(false);
    }
}
