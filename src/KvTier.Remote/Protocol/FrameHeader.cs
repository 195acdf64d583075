using System.Buffers.Binary;

namespace KvTier.Remote.Protocol;

// A frame header (format-spec/protocol.md §3.1):
//   0  4  payload length (u32)   4  1  type   5  1  flags (bit 0 End; 1-7 reserved)   6  2  reserved   8  4  request id
internal readonly record struct FrameHeader(int PayloadLength, FrameType Type, bool End, uint RequestId)
{
    public const byte EndFlag = 0x01;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)PayloadLength);
        destination[4] = (byte)Type;
        destination[5] = End ? EndFlag : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], RequestId);
    }

    /// <summary>Parses and checks a header: reserved bits zero, payload within <paramref name="maxPayload"/> (§3.2).</summary>
    /// <exception cref="RemoteProtocolException"><see cref="RemoteErrorCode.MalformedFrame"/> or <see cref="RemoteErrorCode.FrameTooLarge"/>.</exception>
    public static FrameHeader Read(ReadOnlySpan<byte> source, int maxPayload)
    {
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(source);
        byte flags = source[5];
        if ((flags & ~EndFlag) != 0)
            throw new RemoteProtocolException(RemoteErrorCode.MalformedFrame, $"frame flags 0x{flags:x2} set reserved bits.");
        if (BinaryPrimitives.ReadUInt16LittleEndian(source[6..]) != 0)
            throw new RemoteProtocolException(RemoteErrorCode.MalformedFrame, "the frame header's reserved field is not zero.");
        if (length > (uint)maxPayload)
            throw new RemoteProtocolException(RemoteErrorCode.FrameTooLarge, $"a frame of {length} payload bytes exceeds the limit of {maxPayload}.");
        return new FrameHeader((int)length, (FrameType)source[4], (flags & EndFlag) != 0, BinaryPrimitives.ReadUInt32LittleEndian(source[8..]));
    }
}
