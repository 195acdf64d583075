using System.Buffers.Binary;
using System.IO.Hashing;

namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>The Redis value layout of format-spec/redis-tier.md §3, written out independently of the tier's code.</summary>
public static class RawEnvelope
{
    public static byte[] Wrap(ReadOnlySpan<byte> record, ushort version = 1, ushort flags = 0, ulong? declaredLength = null, ulong? checksum = null, ulong reserved = 0)
    {
        var value = new byte[32 + record.Length];
        "KVRD"u8.CopyTo(value);
        BinaryPrimitives.WriteUInt16LittleEndian(value.AsSpan(4), version);
        BinaryPrimitives.WriteUInt16LittleEndian(value.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(8), declaredLength ?? (ulong)record.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(16), checksum ?? XxHash3.HashToUInt64(record));
        BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(24), reserved);
        record.CopyTo(value.AsSpan(32));
        return value;
    }
}
