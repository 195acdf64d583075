using System.Buffers;
using KvTier.Keys;
using KvTier.Remote.Protocol;

namespace KvTier.Remote.Tests.Fuzz;

/// <summary>
/// The check the <c>frame</c> fuzz target runs on untrusted bytes (fuzz/KvTier.Fuzz links this file, so that a saved
/// input replays in CI exactly as it ran under AFL): the bytes are read as a stream of frames (format-spec/protocol.md
/// §3, §12), in one piece and split at an input-chosen point, and every frame's payload goes through the decoder of its
/// type, and through every other decoder too. Only <see cref="RemoteProtocolException"/> may escape a decoder; a frame
/// must lie inside the input, and what decodes must re-encode to the same bytes where the encoding is canonical.
/// </summary>
internal static class FrameFuzzCheck
{
    public static void Run(byte[] input)
    {
        int frames = Walk(new ReadOnlySequence<byte>(input));
        if (input.Length > 1)
        {
            // The same bytes arriving in two segments: a header or payload split across buffers must parse the same.
            int split = 1 + input[0] % (input.Length - 1);
            if (Walk(TwoSegments(input, split)) != frames)
                throw new InvalidOperationException("splitting the input into two segments changed the frames parsed");
        }
    }

    private static int Walk(ReadOnlySequence<byte> buffer)
    {
        int count = 0;
        while (true)
        {
            long before = buffer.Length;
            FrameHeader header;
            ReadOnlySequence<byte> payload;
            try
            {
                if (!FrameCodec.TryParse(ref buffer, ProtocolLimits.MaxFramePayload, out header, out payload))
                    return count;
            }
            catch (RemoteProtocolException)
            {
                return count; // A bad header: the stream is not trusted past it (§9).
            }
            if (payload.Length != header.PayloadLength || before - buffer.Length != ProtocolLimits.FrameHeaderSize + header.PayloadLength)
                throw new InvalidOperationException("a frame's payload does not match its header");
            byte[] bytes = payload.ToArray();
            var roundTrip = new byte[ProtocolLimits.FrameHeaderSize];
            header.Write(roundTrip);
            if (FrameHeader.Read(roundTrip, ProtocolLimits.MaxFramePayload) != header)
                throw new InvalidOperationException("a frame header does not survive re-encoding");
            DecodeAll(header.Type, bytes);
            count++;
        }
    }

    private static void DecodeAll(FrameType type, byte[] p)
    {
        // The decoder of the frame's own type first, then every other one: a peer may send any payload under any type.
        Try(() => Decode(type, p));
        foreach (FrameType other in Enum.GetValues<FrameType>())
        {
            if (other != type)
                Try(() => Decode(other, p));
        }
        Try(() => Messages.DecodeLayerBody(default, p, 512));
        // A bulk lane's body head (§12.3) travels outside frames: every payload's first 16 bytes are tried as one.
        if (p.Length >= ProtocolLimits.LaneBodyHeaderSize)
        {
            Try(() =>
            {
                ReadOnlySpan<byte> head = p.AsSpan(0, ProtocolLimits.LaneBodyHeaderSize);
                (uint id, long length) = Messages.ReadLaneBodyHeader(head, ProtocolLimits.MaxRecordBytes);
                var again = new byte[ProtocolLimits.LaneBodyHeaderSize];
                Messages.WriteLaneBodyHeader(again, id, length);
                Same(again, head.ToArray(), "lane body head");
            });
        }
    }

    private static void Decode(FrameType type, byte[] p)
    {
        switch (type)
        {
            case FrameType.Hello:
                (ushort min, ushort max, byte[] nonce) = Messages.DecodeHello(p);
                Same(Messages.EncodeHello(min, max, nonce), p, "hello");
                break;
            case FrameType.Challenge:
                (ushort version, byte[] serverNonce) = Messages.DecodeChallenge(p);
                Same(Messages.EncodeChallenge(version, serverNonce), p, "challenge");
                break;
            case FrameType.Auth:
                Messages.DecodeAuth(p);
                break;
            case FrameType.Welcome when p.Length == Messages.WelcomeV2Size:
                Messages.Welcome w = Messages.DecodeWelcome(p, ProtocolLimits.BulkLaneVersion);
                Same(Messages.EncodeWelcome(ProtocolLimits.BulkLaneVersion, w.Proof, w.MaxFramePayload, w.MaxKeys, w.MaxRecordBytes, w.BulkToken, w.MaxBulkLanes), p, "welcome v2");
                break;
            case FrameType.Welcome:
                (byte[] proof, int frame, int keys, long record) = Messages.DecodeWelcome(p);
                Same(Messages.EncodeWelcome(proof, frame, keys, record), p, "welcome");
                break;
            case FrameType.LaneAttach:
                (byte[] token, int lane, uint sequence, byte[] laneProof) = Messages.DecodeLaneAttach(p);
                Same(Messages.EncodeLaneAttach(token, lane, sequence, laneProof), p, "lane-attach");
                break;
            case FrameType.LaneReady:
                (byte[] readyProof, int readyLane) = Messages.DecodeLaneReady(p);
                Same(Messages.EncodeLaneReady(readyProof, readyLane), p, "lane-ready");
                break;
            case FrameType.GetBulk:
                (ChunkKey bulkKey, int bulkFirst, int bulkCount, int threshold) = Messages.DecodeGetBulk(p);
                Same(Messages.EncodeGetBulk(bulkKey, bulkFirst, bulkCount, threshold), p, "get-bulk");
                break;
            case FrameType.PutLane:
                (long laneLength, ChunkKey laneKey, int putLane) = Messages.DecodePutLane(p, ProtocolLimits.MaxRecordBytes);
                Same(Messages.EncodePutLane(laneLength, laneKey, putLane), p, "put-lane");
                break;
            case FrameType.GetBeginLane:
                (long laneBody, byte laneKind, int beginLane) = Messages.DecodeGetBeginLane(p, ProtocolLimits.MaxRecordBytes);
                Same(Messages.EncodeGetBeginLane(laneBody, laneKind, beginLane), p, "get-begin-lane");
                break;
            case FrameType.Put:
                (long length, ChunkKey key) = Messages.DecodePut(p, ProtocolLimits.MaxRecordBytes);
                Same(Messages.EncodePut(length, key), p, "put");
                break;
            case FrameType.Get:
                (ChunkKey getKey, int first, int count) = Messages.DecodeGet(p);
                Same(Messages.EncodeGet(getKey, first, count), p, "get");
                break;
            case FrameType.GetBegin:
                (long bodyLength, byte kind) = Messages.DecodeGetBegin(p, ProtocolLimits.MaxRecordBytes);
                Same(Messages.EncodeGetBegin(bodyLength, kind), p, "get-begin");
                break;
            case FrameType.Contains or FrameType.LongestPrefix:
                ChunkKey[] list = Messages.DecodeKeys(p, ProtocolLimits.MaxKeysPerLookup);
                Same(Messages.EncodeKeys(list), p, "key list");
                break;
            case FrameType.ContainsReply:
                if (p.Length >= 4)
                {
                    int n = (int)Math.Min(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(p), ProtocolLimits.MaxKeysPerLookup);
                    bool[] present = Messages.DecodeContainsReply(p, n);
                    Same(Messages.EncodeContainsReply(present), p, "contains reply");
                }
                break;
            case FrameType.LongestPrefixReply:
                Messages.DecodeU32(p, "longest-prefix reply");
                break;
            case FrameType.Delete:
                Messages.DecodeKey(p, "delete");
                break;
            case FrameType.DeleteReply:
                Messages.DecodeFlag(p, "delete reply");
                break;
            case FrameType.StatsReply:
                Same(Messages.EncodeStats(Messages.DecodeStats(p)), p, "stats reply");
                break;
            case FrameType.HealthReply:
                Messages.DecodeHealth(p);
                break;
            case FrameType.List:
                (ChunkKey? after, int limit) = Messages.DecodeList(p);
                Same(Messages.EncodeList(after, limit), p, "list");
                break;
            case FrameType.ListReply:
                (var entries, bool more) = Messages.DecodeListReply(p, ProtocolLimits.MaxListPage);
                Same(Messages.EncodeListReply(entries, 0, entries.Length, more), p, "list reply");
                break;
            case FrameType.Error:
                Messages.DecodeError(p);
                break;
        }
    }

    private static void Try(Action decode)
    {
        try
        {
            decode();
        }
        catch (RemoteProtocolException)
        {
            // The typed rejection every decoder must give bad input.
        }
    }

    private static void Same(byte[] encoded, byte[] original, string what)
    {
        if (!encoded.AsSpan().SequenceEqual(original))
            throw new InvalidOperationException($"a {what} payload that decoded does not re-encode to the same bytes");
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] input, int split)
    {
        var first = new Segment(input.AsMemory(0, split), 0);
        Segment last = first.Append(input.AsMemory(split));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
