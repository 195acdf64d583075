using KvTier.Keys;
using KvTier.Remote.Protocol;
using KvTier.Storage;

namespace KvTier.Remote.Tests.Fuzz;

/// <summary>The <c>frame</c> target's seed corpus: valid frame sequences of every message type (fuzz/KvTier.Fuzz links this file).</summary>
internal static class FrameSeeds
{
    public static IEnumerable<(string Name, byte[] Bytes)> Create()
    {
        ChunkKey key = ChunkKey.FromBytes(System.Security.Cryptography.SHA256.HashData("seed"u8));
        byte[] nonce = new byte[ProtocolLimits.NonceSize];
        nonce[0] = 1;
        yield return ("handshake.bin", Concat(
            Frame(FrameType.Hello, Messages.EncodeHello(1, 1, nonce)),
            Frame(FrameType.Challenge, Messages.EncodeChallenge(1, nonce)),
            Frame(FrameType.Auth, new byte[ProtocolLimits.ProofSize]),
            Frame(FrameType.Welcome, Messages.EncodeWelcome(new byte[32], ProtocolLimits.MaxFramePayload, 4096, 1 << 20))));
        yield return ("put.bin", Concat(
            Frame(FrameType.Put, Messages.EncodePut(40, key)),
            Frame(FrameType.Data, new byte[24], end: false),
            Frame(FrameType.Data, new byte[16]),
            Frame(FrameType.PutOk, Messages.EncodeKey(key))));
        yield return ("get.bin", Concat(
            Frame(FrameType.Get, Messages.EncodeGet(key, 0, 0)),
            Frame(FrameType.GetBegin, Messages.EncodeGetBegin(8, Messages.GetWhole)),
            Frame(FrameType.Data, new byte[8])));
        yield return ("get-layers.bin", Concat(
            Frame(FrameType.Get, Messages.EncodeGet(key, 1, 1)),
            Frame(FrameType.GetBegin, Messages.EncodeGetBegin(LayerBody().Length, Messages.GetLayers)),
            Frame(FrameType.Data, LayerBody())));
        ChunkKey[] keys = [key, ChunkKey.FromBytes(new byte[32])];
        yield return ("lookups.bin", Concat(
            Frame(FrameType.Contains, Messages.EncodeKeys(keys)),
            Frame(FrameType.ContainsReply, Messages.EncodeContainsReply([true, false])),
            Frame(FrameType.LongestPrefix, Messages.EncodeKeys(keys)),
            Frame(FrameType.LongestPrefixReply, Messages.EncodeU32(1)),
            Frame(FrameType.Delete, Messages.EncodeKey(key)),
            Frame(FrameType.DeleteReply, [1])));
        StoredEntry[] entries = [new(key, Format.ChunkKeyKind.Prefix, 1, 2, 256, 4096, 3, 8192, 7, true)];
        yield return ("admin.bin", Concat(
            Frame(FrameType.Stats, []),
            Frame(FrameType.StatsReply, Messages.EncodeStats(new RemoteStatistics { Entries = 3, LiveBytes = 4096 })),
            Frame(FrameType.Health, []),
            Frame(FrameType.HealthReply, Messages.EncodeHealth(new RemoteHealth(1, true, TimeSpan.FromSeconds(5), 3))),
            Frame(FrameType.List, Messages.EncodeList(key, 10)),
            Frame(FrameType.ListReply, Messages.EncodeListReply(entries, 0, 1, more: false))));
        byte[] laneHead = new byte[ProtocolLimits.LaneBodyHeaderSize];
        Messages.WriteLaneBodyHeader(laneHead, 1, 8);
        yield return ("bulk.bin", Concat(
            Frame(FrameType.Welcome, Messages.EncodeWelcome(ProtocolLimits.BulkLaneVersion, new byte[32], ProtocolLimits.MaxFramePayload, 4096, 1 << 20, nonce, 4)),
            Frame(FrameType.LaneAttach, Messages.EncodeLaneAttach(nonce, 1, 3, new byte[ProtocolLimits.ProofSize])),
            Frame(FrameType.LaneReady, Messages.EncodeLaneReady(new byte[ProtocolLimits.ProofSize], 1)),
            Frame(FrameType.GetBulk, Messages.EncodeGetBulk(key, 0, 0, 1 << 20)),
            Frame(FrameType.GetBeginLane, Messages.EncodeGetBeginLane(8, Messages.GetWhole, 1)),
            Frame(FrameType.PutLane, Messages.EncodePutLane(40, key, 1)),
            Frame(FrameType.Data, laneHead), // a lane body head travels outside frames; here so that the fuzzer meets one
            Frame(FrameType.PutOk, Messages.EncodeKey(key))));
        yield return ("error.bin", Frame(FrameType.Error, Messages.EncodeError(RemoteErrorCode.NotFound, "key is not stored.")));
    }

    private static byte[] LayerBody()
    {
        byte[] payload = [1, 2, 3, 4, 5];
        ulong checksum = System.IO.Hashing.XxHash3.HashToUInt64(payload);
        var b = new byte[4 + 8 + 4 + 16 + payload.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, 8);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(16), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), (uint)payload.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), checksum);
        payload.CopyTo(b, 32);
        return b;
    }

    private static byte[] Frame(FrameType type, byte[] payload, bool end = true)
    {
        var bytes = new byte[ProtocolLimits.FrameHeaderSize + payload.Length];
        new FrameHeader(payload.Length, type, end, 1).Write(bytes);
        payload.CopyTo(bytes, ProtocolLimits.FrameHeaderSize);
        return bytes;
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
