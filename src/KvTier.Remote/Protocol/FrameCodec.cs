using System.Buffers;
using System.IO.Pipelines;

namespace KvTier.Remote.Protocol;

// Reading and writing frames (format-spec/protocol.md §3) over pipes (channels) and streams (the handshake).
// Stateless; each pipe or stream has one reader and one writer at a time.
internal static class FrameCodec
{
    /// <summary>Parses one whole frame from the front of <paramref name="buffer"/>; false when more bytes are needed.</summary>
    /// <exception cref="RemoteProtocolException">The header is malformed or announces more than <paramref name="maxPayload"/> (checked before anything is buffered for it).</exception>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, int maxPayload, out FrameHeader header, out ReadOnlySequence<byte> payload)
    {
        header = default;
        payload = default;
        if (buffer.Length < ProtocolLimits.FrameHeaderSize)
            return false;
        Span<byte> head = stackalloc byte[ProtocolLimits.FrameHeaderSize];
        buffer.Slice(0, ProtocolLimits.FrameHeaderSize).CopyTo(head);
        header = FrameHeader.Read(head, maxPayload);
        long total = ProtocolLimits.FrameHeaderSize + (long)header.PayloadLength;
        if (buffer.Length < total)
            return false;
        payload = buffer.Slice(ProtocolLimits.FrameHeaderSize, header.PayloadLength);
        buffer = buffer.Slice(total);
        return true;
    }

    /// <summary>Reads the next frame; <c>null</c> when the peer completed its side cleanly between frames.</summary>
    /// <exception cref="RemoteProtocolException">A malformed or oversized header, or the stream ended inside a frame (<see cref="RemoteErrorCode.ConnectionLost"/>).</exception>
    public static async ValueTask<ReceivedFrame?> ReadAsync(PipeReader reader, int maxPayload, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool parsed;
            FrameHeader header;
            ReadOnlySequence<byte> payload;
            try
            {
                parsed = TryParse(ref buffer, maxPayload, out header, out payload);
            }
            catch
            {
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw;
            }
            if (parsed)
            {
                ReceivedFrame frame = ReceivedFrame.Create(header, payload);
                reader.AdvanceTo(buffer.Start);
                return frame;
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                bool empty = result.Buffer.IsEmpty;
                reader.AdvanceTo(result.Buffer.End);
                if (empty && !result.IsCanceled)
                    return null;
                throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, $"the stream ended inside a frame ({result.Buffer.Length} bytes of it arrived).");
            }
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>Reads the next frame and requires it to be of <paramref name="expected"/>; an error frame becomes its exception.</summary>
    public static async ValueTask<ReceivedFrame> ReadExpectedAsync(PipeReader reader, FrameType expected, int maxPayload, CancellationToken cancellationToken)
    {
        ReceivedFrame? frame = await ReadAsync(reader, maxPayload, cancellationToken).ConfigureAwait(false)
            ?? throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, $"the peer closed the channel before sending a {expected} frame.");
        return Expect(frame, expected);
    }

    public static ReceivedFrame Expect(ReceivedFrame frame, FrameType expected)
    {
        if (frame.Type == expected)
            return frame;
        using (frame)
        {
            if (frame.Type == FrameType.Error)
            {
                (RemoteErrorCode code, string message) = Messages.DecodeError(frame.Payload);
                throw new RemoteProtocolException(code, message);
            }
            throw new RemoteProtocolException(RemoteErrorCode.UnexpectedFrame, $"expected a {expected} frame, got type 0x{(byte)frame.Type:x2}.");
        }
    }

    /// <summary>Appends one frame to <paramref name="writer"/> (not flushed).</summary>
    public static void Write(PipeWriter writer, FrameType type, uint requestId, ReadOnlySpan<byte> payload, bool end = true)
    {
        Span<byte> span = writer.GetSpan(ProtocolLimits.FrameHeaderSize + payload.Length);
        new FrameHeader(payload.Length, type, end, requestId).Write(span);
        payload.CopyTo(span[ProtocolLimits.FrameHeaderSize..]);
        writer.Advance(ProtocolLimits.FrameHeaderSize + payload.Length);
    }

    /// <summary>Writes one frame and flushes; false when the reader side completed.</summary>
    public static async ValueTask WriteAsync(PipeWriter writer, FrameType type, uint requestId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken, bool end = true)
    {
        Write(writer, type, requestId, payload.Span, end);
        FlushResult flushed = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flushed.IsCompleted)
            throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, "the peer stopped reading the channel.");
    }

    public static ValueTask WriteErrorAsync(PipeWriter writer, uint requestId, RemoteErrorCode code, string message, CancellationToken cancellationToken) =>
        WriteAsync(writer, FrameType.Error, requestId, Messages.EncodeError(code, message), cancellationToken);

    /// <summary>Reads one handshake frame from a raw stream, exactly (no read-ahead past it: the multiplexer takes over the stream after the handshake).</summary>
    public static async ValueTask<ReceivedFrame> ReadHandshakeAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] head = new byte[ProtocolLimits.FrameHeaderSize];
        try
        {
            await stream.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, "the peer closed the connection during the handshake.", e);
        }
        FrameHeader header = FrameHeader.Read(head, ProtocolLimits.MaxHandshakePayload);
        byte[] payload = new byte[header.PayloadLength];
        try
        {
            await stream.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new RemoteProtocolException(RemoteErrorCode.ConnectionLost, "the peer closed the connection inside a handshake frame.", e);
        }
        return new ReceivedFrame(header, payload);
    }

    public static async ValueTask WriteHandshakeAsync(Stream stream, FrameType type, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        byte[] frame = new byte[ProtocolLimits.FrameHeaderSize + payload.Length];
        new FrameHeader(payload.Length, type, true, 0).Write(frame);
        payload.Span.CopyTo(frame.AsSpan(ProtocolLimits.FrameHeaderSize));
        await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public static ReceivedFrame ExpectHandshake(ReceivedFrame frame, FrameType expected) => Expect(frame, expected);
}
