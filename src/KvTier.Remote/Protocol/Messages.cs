using System.Buffers.Binary;
using System.Text;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage;

namespace KvTier.Remote.Protocol;

// Message bodies (format-spec/protocol.md §4, §5 and §7). Every decoder checks the exact length, reserved fields and
// every count against its limit before it allocates, and throws RemoteProtocolException(MalformedFrame or
// LimitExceeded) otherwise. Stateless.
internal static partial class Messages
{
    public static ReadOnlySpan<byte> HelloMagic => "KVTR"u8;

    public const int HelloSize = 4 + 2 + 2 + 4 + ProtocolLimits.NonceSize;
    public const int ChallengeSize = 2 + 2 + ProtocolLimits.NonceSize;
    public const int AuthSize = ProtocolLimits.ProofSize;
    public const int WelcomeSize = ProtocolLimits.ProofSize + 4 + 4 + 8;
    public const int KeyMessageSize = ChunkKey.Size;
    public const int PutSize = 8 + ChunkKey.Size;
    public const int GetSize = ChunkKey.Size + 2 + 2;
    public const int GetBeginSize = 8 + 8;
    public const int ListRequestSize = 4 + 4 + ChunkKey.Size;
    public const int ListEntrySize = 72;
    public const int StatsFieldCount = 16;
    public const int HealthSize = 2 + 1 + 1 + 4 + 8 + 8;

    public const long MaxUptimeMs = 100L * 366 * 24 * 3600 * 1000; // a century: anything above is corruption

    public const byte GetWhole = 0;
    public const byte GetLayers = 1;

    // §4 hello: magic "KVTR", min version, max version, reserved u32, client nonce.
    public static byte[] EncodeHello(ushort minVersion, ushort maxVersion, ReadOnlySpan<byte> clientNonce)
    {
        var b = new byte[HelloSize];
        HelloMagic.CopyTo(b);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), minVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(6), maxVersion);
        clientNonce.CopyTo(b.AsSpan(12));
        return b;
    }

    public static (ushort Min, ushort Max, byte[] Nonce) DecodeHello(ReadOnlySpan<byte> p)
    {
        RequireLength(p, HelloSize, "hello");
        if (!p[..4].SequenceEqual(HelloMagic))
            throw Malformed("the hello frame does not start with \"KVTR\".");
        RequireZero(p.Slice(8, 4), "hello");
        ushort min = BinaryPrimitives.ReadUInt16LittleEndian(p[4..]), max = BinaryPrimitives.ReadUInt16LittleEndian(p[6..]);
        if (min > max)
            throw Malformed($"the hello's minimum version {min} is above its maximum {max}.");
        return (min, max, p[12..].ToArray());
    }

    // §4 challenge: chosen version, reserved u16, server nonce.
    public static byte[] EncodeChallenge(ushort version, ReadOnlySpan<byte> serverNonce)
    {
        var b = new byte[ChallengeSize];
        BinaryPrimitives.WriteUInt16LittleEndian(b, version);
        serverNonce.CopyTo(b.AsSpan(4));
        return b;
    }

    public static (ushort Version, byte[] Nonce) DecodeChallenge(ReadOnlySpan<byte> p)
    {
        RequireLength(p, ChallengeSize, "challenge");
        RequireZero(p.Slice(2, 2), "challenge");
        return (BinaryPrimitives.ReadUInt16LittleEndian(p), p[4..].ToArray());
    }

    public static byte[] DecodeAuth(ReadOnlySpan<byte> p)
    {
        RequireLength(p, AuthSize, "auth");
        return p.ToArray();
    }

    // §4 welcome (version 1): server proof, max frame payload, max keys per lookup, max record bytes. Version 2 appends
    // the bulk session token and the lane limit (§12.1): see EncodeWelcome in Messages.Bulk.cs.
    public static byte[] EncodeWelcome(ReadOnlySpan<byte> serverProof, int maxFramePayload, int maxKeys, long maxRecordBytes) =>
        EncodeWelcome(1, serverProof, maxFramePayload, maxKeys, maxRecordBytes, default, 0);

    public static (byte[] Proof, int MaxFramePayload, int MaxKeys, long MaxRecordBytes) DecodeWelcome(ReadOnlySpan<byte> p)
    {
        Welcome w = DecodeWelcome(p, 1);
        return (w.Proof, w.MaxFramePayload, w.MaxKeys, w.MaxRecordBytes);
    }

    // §7.1 put: record length u64, key.
    public static byte[] EncodePut(long recordLength, ChunkKey key)
    {
        var b = new byte[PutSize];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)recordLength);
        key.CopyTo(b.AsSpan(8));
        return b;
    }

    public static (long Length, ChunkKey Key) DecodePut(ReadOnlySpan<byte> p, long maxRecordBytes)
    {
        RequireLength(p, PutSize, "put");
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(p);
        if (length == 0 || length > (ulong)maxRecordBytes)
            throw new RemoteProtocolException(RemoteErrorCode.LimitExceeded, $"a record of {length} bytes is outside 1 – {maxRecordBytes} bytes.");
        return ((long)length, ChunkKey.FromBytes(p.Slice(8, ChunkKey.Size)));
    }

    public static byte[] EncodeKey(ChunkKey key) => key.ToArray();

    public static ChunkKey DecodeKey(ReadOnlySpan<byte> p, string what)
    {
        RequireLength(p, KeyMessageSize, what);
        return ChunkKey.FromBytes(p);
    }

    // §7.2 get: key, first layer u16, layer count u16 (0: the whole record).
    public static byte[] EncodeGet(ChunkKey key, int firstLayer, int layerCount)
    {
        var b = new byte[GetSize];
        key.CopyTo(b);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(32), (ushort)firstLayer);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(34), (ushort)layerCount);
        return b;
    }

    public static (ChunkKey Key, int FirstLayer, int LayerCount) DecodeGet(ReadOnlySpan<byte> p)
    {
        RequireLength(p, GetSize, "get");
        int first = BinaryPrimitives.ReadUInt16LittleEndian(p[32..]), count = BinaryPrimitives.ReadUInt16LittleEndian(p[34..]);
        if (count == 0 && first != 0)
            throw Malformed("a whole-record get must have first layer 0.");
        return (ChunkKey.FromBytes(p[..32]), first, count);
    }

    // §7.2 get-begin: body length u64, body kind u8, reserved 7.
    public static byte[] EncodeGetBegin(long length, byte kind)
    {
        var b = new byte[GetBeginSize];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)length);
        b[8] = kind;
        return b;
    }

    public static (long Length, byte Kind) DecodeGetBegin(ReadOnlySpan<byte> p, long maxBody)
    {
        RequireLength(p, GetBeginSize, "get-begin");
        RequireZero(p[9..], "get-begin");
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(p);
        if (p[8] > GetLayers)
            throw Malformed($"unknown get body kind {p[8]}.");
        if (length == 0 || length > (ulong)maxBody)
            throw new RemoteProtocolException(RemoteErrorCode.LimitExceeded, $"a get body of {length} bytes is outside 1 – {maxBody}.");
        return ((long)length, p[8]);
    }

    // §7.3 contains / longest-prefix: count u32, reserved u32, keys.
    public static byte[] EncodeKeys(IReadOnlyList<ChunkKey> keys)
    {
        var b = new byte[8 + keys.Count * ChunkKey.Size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)keys.Count);
        for (int i = 0; i < keys.Count; i++)
            keys[i].CopyTo(b.AsSpan(8 + i * ChunkKey.Size));
        return b;
    }

    public static ChunkKey[] DecodeKeys(ReadOnlySpan<byte> p, int maxKeys)
    {
        if (p.Length < 8)
            throw Malformed("a key list is shorter than its 8-byte head.");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(p);
        RequireZero(p.Slice(4, 4), "key list");
        if (count > (uint)maxKeys)
            throw new RemoteProtocolException(RemoteErrorCode.LimitExceeded, $"{count} keys exceed the limit of {maxKeys} per lookup.");
        RequireLength(p, 8 + (int)count * ChunkKey.Size, "key list");
        var keys = new ChunkKey[count];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = ChunkKey.FromBytes(p.Slice(8 + i * ChunkKey.Size, ChunkKey.Size));
        return keys;
    }

    // §7.3 contains reply: count u32, bitmap (bit i of byte i/8: key i is stored; padding bits 0).
    public static byte[] EncodeContainsReply(ReadOnlySpan<bool> present)
    {
        var b = new byte[4 + (present.Length + 7) / 8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)present.Length);
        for (int i = 0; i < present.Length; i++)
        {
            if (present[i])
                b[4 + i / 8] |= (byte)(1 << (i % 8));
        }
        return b;
    }

    public static bool[] DecodeContainsReply(ReadOnlySpan<byte> p, int expected)
    {
        if (p.Length < 4)
            throw Malformed("a contains reply is shorter than 4 bytes.");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (count != (uint)expected)
            throw Malformed($"a contains reply for {count} keys answers a request for {expected}.");
        RequireLength(p, 4 + (expected + 7) / 8, "contains reply");
        var present = new bool[expected];
        for (int i = 0; i < expected; i++)
            present[i] = (p[4 + i / 8] & (1 << (i % 8))) != 0;
        if (expected % 8 != 0 && (p[^1] >> (expected % 8)) != 0)
            throw Malformed("a contains reply's padding bits are not zero.");
        return present;
    }

    public static byte[] EncodeU32(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return b;
    }

    public static uint DecodeU32(ReadOnlySpan<byte> p, string what)
    {
        RequireLength(p, 4, what);
        return BinaryPrimitives.ReadUInt32LittleEndian(p);
    }

    public static bool DecodeFlag(ReadOnlySpan<byte> p, string what)
    {
        RequireLength(p, 1, what);
        if (p[0] > 1)
            throw Malformed($"the {what} flag is {p[0]}, not 0 or 1.");
        return p[0] == 1;
    }

    // §7.6 stats reply: 16 u64 fields, in the order of the table in §7.6.
    public static byte[] EncodeStats(RemoteStatistics s)
    {
        ReadOnlySpan<long> fields =
        [
            s.Entries, s.LiveBytes, s.DeadBytes, s.Segments, s.MemoryEntries, s.MemoryBytes, s.MemoryHits, s.DiskHits,
            s.Misses, s.Puts, s.Deletes, s.CorruptionEvents, s.OpenConnections, s.ActiveRequests, s.InFlightPutBytes, s.RejectedRequests,
        ];
        var b = new byte[StatsFieldCount * 8];
        for (int i = 0; i < fields.Length; i++)
            BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(i * 8), fields[i]);
        return b;
    }

    public static RemoteStatistics DecodeStats(ReadOnlySpan<byte> p)
    {
        RequireLength(p, StatsFieldCount * 8, "stats reply");
        var f = new long[StatsFieldCount];
        for (int i = 0; i < f.Length; i++)
            f[i] = BinaryPrimitives.ReadInt64LittleEndian(p[(i * 8)..]);
        long F(int i) => f[i];
        return new RemoteStatistics
        {
            Entries = F(0), LiveBytes = F(1), DeadBytes = F(2), Segments = F(3), MemoryEntries = F(4), MemoryBytes = F(5),
            MemoryHits = F(6), DiskHits = F(7), Misses = F(8), Puts = F(9), Deletes = F(10), CorruptionEvents = F(11),
            OpenConnections = F(12), ActiveRequests = F(13), InFlightPutBytes = F(14), RejectedRequests = F(15),
        };
    }

    // §7.7 health reply: version u16, accepting u8, reserved u8, reserved u32, uptime ms u64, entries u64.
    public static byte[] EncodeHealth(RemoteHealth h)
    {
        var b = new byte[HealthSize];
        BinaryPrimitives.WriteUInt16LittleEndian(b, h.ProtocolVersion);
        b[2] = h.Accepting ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), (long)h.Uptime.TotalMilliseconds);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(16), h.Entries);
        return b;
    }

    public static RemoteHealth DecodeHealth(ReadOnlySpan<byte> p)
    {
        RequireLength(p, HealthSize, "health reply");
        RequireZero(p.Slice(3, 5), "health reply");
        if (p[2] > 1)
            throw Malformed("the health reply's accepting flag is not 0 or 1.");
        long uptimeMs = BinaryPrimitives.ReadInt64LittleEndian(p[8..]);
        if (uptimeMs < 0 || uptimeMs > MaxUptimeMs)
            throw Malformed($"the health reply's uptime {uptimeMs} ms is out of range.");
        return new RemoteHealth(BinaryPrimitives.ReadUInt16LittleEndian(p), p[2] == 1,
            TimeSpan.FromTicks(uptimeMs * TimeSpan.TicksPerMillisecond), BinaryPrimitives.ReadInt64LittleEndian(p[16..]));
    }

    // §7.8 list: limit u32, flags u32 (bit 0: start after the key), key.
    public static byte[] EncodeList(ChunkKey? after, int limit)
    {
        var b = new byte[ListRequestSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)limit);
        if (after is { } key)
        {
            b[4] = 1;
            key.CopyTo(b.AsSpan(8));
        }
        return b;
    }

    public static (ChunkKey? After, int Limit) DecodeList(ReadOnlySpan<byte> p)
    {
        RequireLength(p, ListRequestSize, "list");
        uint limit = BinaryPrimitives.ReadUInt32LittleEndian(p);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        if (flags > 1)
            throw Malformed($"list flags 0x{flags:x} set reserved bits.");
        if (limit is 0 or > ProtocolLimits.MaxListPage)
            throw new RemoteProtocolException(RemoteErrorCode.LimitExceeded, $"a list page of {limit} entries is outside 1 – {ProtocolLimits.MaxListPage}.");
        if (flags == 0)
            RequireZero(p[8..], "list");
        return (flags == 1 ? ChunkKey.FromBytes(p[8..]) : null, (int)limit);
    }

    // §7.8 list reply: count u32, more u8, reserved 3, then count entries of 72 bytes.
    public static byte[] EncodeListReply(IReadOnlyList<StoredEntry> entries, int start, int count, bool more)
    {
        var b = new byte[8 + count * ListEntrySize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)count);
        b[4] = more ? (byte)1 : (byte)0;
        for (int i = 0; i < count; i++)
        {
            StoredEntry e = entries[start + i];
            Span<byte> s = b.AsSpan(8 + i * ListEntrySize, ListEntrySize);
            e.Key.CopyTo(s);
            s[32] = (byte)e.KeyKind;
            s[33] = e.Codec;
            s[34] = (byte)Math.Clamp(e.Level, 0, 255);
            s[35] = e.InMemory ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteUInt32LittleEndian(s[36..], (uint)e.TokenCount);
            BinaryPrimitives.WriteInt64LittleEndian(s[40..], e.RecordLength);
            BinaryPrimitives.WriteUInt64LittleEndian(s[48..], e.SegmentId);
            BinaryPrimitives.WriteInt64LittleEndian(s[56..], e.Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(s[64..], e.Sequence);
        }
        return b;
    }

    public static (StoredEntry[] Entries, bool More) DecodeListReply(ReadOnlySpan<byte> p, int limit)
    {
        if (p.Length < 8)
            throw Malformed("a list reply is shorter than 8 bytes.");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (count > (uint)limit)
            throw new RemoteProtocolException(RemoteErrorCode.LimitExceeded, $"a list reply of {count} entries exceeds the {limit} asked for.");
        if (p[4] > 1)
            throw Malformed("the list reply's more flag is not 0 or 1.");
        RequireZero(p.Slice(5, 3), "list reply");
        RequireLength(p, 8 + (int)count * ListEntrySize, "list reply");
        var entries = new StoredEntry[count];
        for (int i = 0; i < entries.Length; i++)
        {
            ReadOnlySpan<byte> s = p.Slice(8 + i * ListEntrySize, ListEntrySize);
            if (s[35] > 1)
                throw Malformed("a list entry's flags set reserved bits.");
            uint tokens = BinaryPrimitives.ReadUInt32LittleEndian(s[36..]);
            long bytes = BinaryPrimitives.ReadInt64LittleEndian(s[40..]), offset = BinaryPrimitives.ReadInt64LittleEndian(s[56..]);
            if (tokens > int.MaxValue || bytes < 0 || offset < 0)
                throw Malformed("a list entry's token count, length or offset is out of range.");
            entries[i] = new StoredEntry(ChunkKey.FromBytes(s[..32]), (ChunkKeyKind)s[32], s[33], s[34], (int)tokens, bytes,
                BinaryPrimitives.ReadUInt64LittleEndian(s[48..]), offset, BinaryPrimitives.ReadUInt64LittleEndian(s[64..]), s[35] == 1);
        }
        return (entries, p[4] == 1);
    }

    // §8 error: code u16, reserved u16, message length u32, UTF-8 message.
    public static byte[] EncodeError(RemoteErrorCode code, string message)
    {
        byte[] text = Encoding.UTF8.GetBytes(message);
        int length = Math.Min(text.Length, ProtocolLimits.MaxErrorMessageBytes);
        var b = new byte[8 + length];
        BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)code);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)length);
        text.AsSpan(0, length).CopyTo(b.AsSpan(8));
        return b;
    }

    public static (RemoteErrorCode Code, string Message) DecodeError(ReadOnlySpan<byte> p)
    {
        if (p.Length < 8)
            throw Malformed("an error frame is shorter than 8 bytes.");
        RequireZero(p.Slice(2, 2), "error");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        if (length > ProtocolLimits.MaxErrorMessageBytes)
            throw new RemoteProtocolException(RemoteErrorCode.LimitExceeded, $"an error message of {length} bytes exceeds {ProtocolLimits.MaxErrorMessageBytes}.");
        RequireLength(p, 8 + (int)length, "error");
        ushort code = BinaryPrimitives.ReadUInt16LittleEndian(p);
        if (code is 0 or >= 0x100)
            throw Malformed($"error code {code} is not a wire error code.");
        // Lossy decoding on purpose: a message is for people; bad UTF-8 must not turn a typed error into another failure.
        return ((RemoteErrorCode)code, Encoding.UTF8.GetString(p.Slice(8, (int)length)));
    }

    // §7.2 layer-range body: header length u32, the record's header and section table, section count u32, then per
    // section: layer u16, kind u8, reserved u8, payload length u32, XXH3-64 u64, payload.
    public static RemoteLayerRange DecodeLayerBody(ChunkKey key, ReadOnlySpan<byte> body, int maxSections)
    {
        if (body.Length < 8)
            throw Malformed("a layer-range body is shorter than 8 bytes.");
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(body);
        if (headerLength > (uint)(body.Length - 8))
            throw Malformed("a layer-range body's header length runs past its end.");
        byte[] header = body.Slice(4, (int)headerLength).ToArray();
        int at = 4 + (int)headerLength;
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
        at += 4;
        if (count > (uint)maxSections)
            throw new RemoteProtocolException(RemoteErrorCode.LimitExceeded, $"{count} sections exceed the {maxSections} asked for.");
        var sections = new RemoteSection[count];
        for (int i = 0; i < sections.Length; i++)
        {
            if (body.Length - at < 16)
                throw Malformed("a layer-range body ends inside a section head.");
            int layer = BinaryPrimitives.ReadUInt16LittleEndian(body[at..]);
            byte kind = body[at + 2];
            if (kind > 1 || body[at + 3] != 0)
                throw Malformed("a section head has an unknown kind or a non-zero reserved byte.");
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(body[(at + 4)..]);
            ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(body[(at + 8)..]);
            at += 16;
            if (length > (uint)(body.Length - at))
                throw Malformed("a section payload runs past the end of the body.");
            byte[] payload = body.Slice(at, (int)length).ToArray();
            at += (int)length;
            if (System.IO.Hashing.XxHash3.HashToUInt64(payload) != checksum)
                throw new RemoteProtocolException(RemoteErrorCode.InvalidRecord, $"layer {layer} {(kind == 0 ? "K" : "V")} payload failed its checksum.");
            sections[i] = new RemoteSection(layer, (SectionKind)kind, checksum, payload);
        }
        if (at != body.Length)
            throw Malformed("a layer-range body has bytes after its last section.");
        return new RemoteLayerRange(key, header, sections);
    }

    public static RemoteProtocolException Malformed(string message) => new(RemoteErrorCode.MalformedFrame, message);

    private static void RequireLength(ReadOnlySpan<byte> p, int expected, string what)
    {
        if (p.Length != expected)
            throw Malformed($"a {what} payload is {p.Length} bytes, not {expected}.");
    }

    private static void RequireZero(ReadOnlySpan<byte> p, string what)
    {
        if (p.ContainsAnyExcept((byte)0))
            throw Malformed($"reserved bytes of a {what} payload are not zero.");
    }
}
