using System.Buffers.Binary;
using KvTier.Keys;

namespace KvTier.Remote.Protocol;

// The version-2 messages: the welcome with its bulk session token, and the bulk-lane frames (format-spec/protocol.md
// §4 and §12). Same rules as the rest of Messages: exact lengths, reserved bytes zero, every length bounded.
internal static partial class Messages
{
    public const int WelcomeV2Size = WelcomeSize + ProtocolLimits.BulkTokenSize + 2 + 6;
    public const int LaneAttachSize = ProtocolLimits.BulkTokenSize + 2 + 2 + 4 + ProtocolLimits.ProofSize;
    public const int LaneReadySize = ProtocolLimits.ProofSize + 2 + 6;
    public const int GetBulkSize = GetSize + 4;
    public const int PutLaneSize = PutSize + 2 + 6;
    public const int GetBeginLaneSize = 16;

    /// <summary>A decoded welcome (§4): the server's proof and limits, and from version 2 on its bulk-lane offer (§12.1).</summary>
    public readonly record struct Welcome(byte[] Proof, int MaxFramePayload, int MaxKeys, long MaxRecordBytes, byte[] BulkToken, int MaxBulkLanes);

    // §4, §12.1 welcome: version 1 is 48 bytes; version 2 appends token[32], max lanes u16, reserved[6] (88 bytes).
    public static byte[] EncodeWelcome(ushort version, ReadOnlySpan<byte> serverProof, int maxFramePayload, int maxKeys, long maxRecordBytes,
        ReadOnlySpan<byte> bulkToken, int maxBulkLanes)
    {
        var b = new byte[version >= ProtocolLimits.BulkLaneVersion ? WelcomeV2Size : WelcomeSize];
        serverProof.CopyTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(32), (uint)maxFramePayload);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(36), (uint)maxKeys);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(40), (ulong)maxRecordBytes);
        if (version >= ProtocolLimits.BulkLaneVersion && maxBulkLanes > 0)
        {
            bulkToken.CopyTo(b.AsSpan(48));
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(80), (ushort)maxBulkLanes);
        }
        return b;
    }

    public static Welcome DecodeWelcome(ReadOnlySpan<byte> p, ushort version)
    {
        bool bulk = version >= ProtocolLimits.BulkLaneVersion;
        RequireLength(p, bulk ? WelcomeV2Size : WelcomeSize, "welcome");
        uint frame = BinaryPrimitives.ReadUInt32LittleEndian(p[32..]);
        uint keys = BinaryPrimitives.ReadUInt32LittleEndian(p[36..]);
        ulong record = BinaryPrimitives.ReadUInt64LittleEndian(p[40..]);
        if (frame is < 4096 or > ProtocolLimits.MaxFramePayload || keys is 0 or > ProtocolLimits.MaxKeysPerLookup || record is 0 or > (ulong)ProtocolLimits.MaxRecordBytes)
            throw Malformed("the welcome frame's limits are out of range.");
        byte[] token = [];
        int lanes = 0;
        if (bulk)
        {
            RequireZero(p.Slice(82, 6), "welcome");
            lanes = BinaryPrimitives.ReadUInt16LittleEndian(p[80..]);
            if (lanes > ProtocolLimits.MaxBulkLanes)
                throw Malformed($"the welcome offers {lanes} bulk lanes; the protocol allows at most {ProtocolLimits.MaxBulkLanes}.");
            if (lanes == 0)
                RequireZero(p.Slice(48, ProtocolLimits.BulkTokenSize), "welcome (no lanes, so no token)");
            else
                token = p.Slice(48, ProtocolLimits.BulkTokenSize).ToArray();
        }
        return new Welcome(p[..32].ToArray(), (int)frame, (int)keys, (long)record, token, lanes);
    }

    // §12.2 lane-attach: token[32], lane u16, reserved u16, sequence u32, proof[32].
    public static byte[] EncodeLaneAttach(ReadOnlySpan<byte> token, int lane, uint sequence, ReadOnlySpan<byte> proof)
    {
        var b = new byte[LaneAttachSize];
        token.CopyTo(b);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(32), (ushort)lane);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(36), sequence);
        proof.CopyTo(b.AsSpan(40));
        return b;
    }

    public static (byte[] Token, int Lane, uint Sequence, byte[] Proof) DecodeLaneAttach(ReadOnlySpan<byte> p)
    {
        RequireLength(p, LaneAttachSize, "lane-attach");
        RequireZero(p.Slice(34, 2), "lane-attach");
        int lane = BinaryPrimitives.ReadUInt16LittleEndian(p[32..]);
        uint sequence = BinaryPrimitives.ReadUInt32LittleEndian(p[36..]);
        if (lane >= ProtocolLimits.MaxBulkLanes)
            throw new RemoteProtocolException(RemoteErrorCode.BulkLaneRefused, $"lane {lane} is outside 0 – {ProtocolLimits.MaxBulkLanes - 1}.");
        if (sequence == 0)
            throw Malformed("a lane-attach sequence number is 0; they start at 1.");
        return (p[..32].ToArray(), lane, sequence, p.Slice(40, ProtocolLimits.ProofSize).ToArray());
    }

    // §12.2 lane-ready: server lane proof[32], lane u16, reserved[6].
    public static byte[] EncodeLaneReady(ReadOnlySpan<byte> proof, int lane)
    {
        var b = new byte[LaneReadySize];
        proof.CopyTo(b);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(32), (ushort)lane);
        return b;
    }

    public static (byte[] Proof, int Lane) DecodeLaneReady(ReadOnlySpan<byte> p)
    {
        RequireLength(p, LaneReadySize, "lane-ready");
        RequireZero(p[34..], "lane-ready");
        return (p[..32].ToArray(), BinaryPrimitives.ReadUInt16LittleEndian(p[32..]));
    }

    // §12.3 get-bulk: the get of §7.2 (key, first layer u16, layer count u16), then the lane threshold u32.
    public static byte[] EncodeGetBulk(ChunkKey key, int firstLayer, int layerCount, int laneThreshold)
    {
        var b = new byte[GetBulkSize];
        EncodeGet(key, firstLayer, layerCount).CopyTo(b, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(GetSize), (uint)laneThreshold);
        return b;
    }

    public static (ChunkKey Key, int FirstLayer, int LayerCount, int LaneThreshold) DecodeGetBulk(ReadOnlySpan<byte> p)
    {
        RequireLength(p, GetBulkSize, "get-bulk");
        (ChunkKey key, int first, int count) = DecodeGet(p[..GetSize]);
        uint threshold = BinaryPrimitives.ReadUInt32LittleEndian(p[GetSize..]);
        if (threshold is 0 or > (uint)ProtocolLimits.MaxRecordBytes)
            throw Malformed($"a get-bulk lane threshold of {threshold} bytes is outside 1 – {ProtocolLimits.MaxRecordBytes}.");
        return (key, first, count, (int)threshold);
    }

    // §12.3 put-lane: the put of §7.1 (record length u64, key), then lane u16, reserved[6].
    public static byte[] EncodePutLane(long recordLength, ChunkKey key, int lane)
    {
        var b = new byte[PutLaneSize];
        EncodePut(recordLength, key).CopyTo(b, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(PutSize), (ushort)lane);
        return b;
    }

    public static (long Length, ChunkKey Key, int Lane) DecodePutLane(ReadOnlySpan<byte> p, long maxRecordBytes)
    {
        RequireLength(p, PutLaneSize, "put-lane");
        RequireZero(p[(PutSize + 2)..], "put-lane");
        (long length, ChunkKey key) = DecodePut(p[..PutSize], maxRecordBytes);
        return (length, key, BinaryPrimitives.ReadUInt16LittleEndian(p[PutSize..]));
    }

    // §12.3 get-begin-lane: body length u64, body kind u8, reserved u8, lane u16, reserved u32.
    public static byte[] EncodeGetBeginLane(long length, byte kind, int lane)
    {
        var b = new byte[GetBeginLaneSize];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)length);
        b[8] = kind;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(10), (ushort)lane);
        return b;
    }

    public static (long Length, byte Kind, int Lane) DecodeGetBeginLane(ReadOnlySpan<byte> p, long maxBody)
    {
        RequireLength(p, GetBeginLaneSize, "get-begin-lane");
        if (p[9] != 0)
            throw Malformed("reserved bytes of a get-begin-lane payload are not zero.");
        RequireZero(p[12..], "get-begin-lane");
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(p);
        if (p[8] > GetLayers)
            throw Malformed($"unknown get body kind {p[8]}.");
        if (length == 0 || length > (ulong)maxBody)
            throw new RemoteProtocolException(RemoteErrorCode.LimitExceeded, $"a get body of {length} bytes is outside 1 – {maxBody}.");
        int lane = BinaryPrimitives.ReadUInt16LittleEndian(p[10..]);
        if (lane >= ProtocolLimits.MaxBulkLanes)
            throw Malformed($"get-begin-lane names lane {lane}, outside 0 – {ProtocolLimits.MaxBulkLanes - 1}.");
        return ((long)length, p[8], lane);
    }

    // §12.3 lane body head: request id u32, reserved u32, body length u64; the body's bytes follow on the lane.
    public static void WriteLaneBodyHeader(Span<byte> destination, uint requestId, long length)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, requestId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], (ulong)length);
    }

    /// <exception cref="RemoteProtocolException"><see cref="RemoteErrorCode.MalformedFrame"/> for reserved bytes or a length outside 1 – <paramref name="maxBody"/>.</exception>
    public static (uint RequestId, long Length) ReadLaneBodyHeader(ReadOnlySpan<byte> p, long maxBody)
    {
        RequireLength(p, ProtocolLimits.LaneBodyHeaderSize, "lane body head");
        RequireZero(p.Slice(4, 4), "lane body head");
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]);
        if (length == 0 || length > (ulong)maxBody)
            throw Malformed($"a lane body of {length} bytes is outside 1 – {maxBody}.");
        return (BinaryPrimitives.ReadUInt32LittleEndian(p), (long)length);
    }
}
