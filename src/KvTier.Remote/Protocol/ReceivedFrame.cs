using System.Buffers;

namespace KvTier.Remote.Protocol;

// One frame read from a channel or the handshake stream; its payload is rented from the shared pool and returned on
// Dispose. Not thread-safe: one reader owns it.
internal sealed class ReceivedFrame(FrameHeader header, byte[] rented, bool pooled = false) : IDisposable
{
    private byte[]? _rented = rented;

    public FrameHeader Header { get; } = header;

    public FrameType Type => Header.Type;

    public ReadOnlySpan<byte> Payload => (_rented ?? throw new ObjectDisposedException(nameof(ReceivedFrame))).AsSpan(0, Header.PayloadLength);

    public void Dispose()
    {
        byte[]? rented = Interlocked.Exchange(ref _rented, null);
        if (pooled && rented is not null && rented.Length > 0)
            ArrayPool<byte>.Shared.Return(rented);
    }

    public static ReceivedFrame Create(FrameHeader header, ReadOnlySequence<byte> payload)
    {
        byte[] buffer = header.PayloadLength == 0 ? [] : ArrayPool<byte>.Shared.Rent(header.PayloadLength);
        payload.CopyTo(buffer);
        return new ReceivedFrame(header, buffer, pooled: true);
    }
}
