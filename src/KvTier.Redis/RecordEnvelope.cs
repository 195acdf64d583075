using System.Buffers.Binary;
using System.IO.Hashing;

namespace KvTier.Redis;

/// <summary>
/// The envelope around a chunk record in a Redis value (format-spec/redis-tier.md §3):
/// <code>
/// offset  size  field
///      0     4  magic "KVRD" (0x4B 0x56 0x52 0x44)
///      4     2  envelope version (u16 LE), 1
///      6     2  flags (u16 LE), reserved: must be 0
///      8     8  record length in bytes (u64 LE) = value length − 32
///     16     8  XXH3-64 (seed 0) of the record bytes (u64 LE)
///     24     8  reserved: must be 0
///     32     …  the chunk record (format-spec/kvtier-format.md)
/// </code>
/// </summary>
/// <remarks>Stateless; safe from any thread.</remarks>
internal static class RecordEnvelope
{
    /// <summary>Bytes before the record.</summary>
    public const int HeaderSize = 32;

    /// <summary>The version this code writes.</summary>
    public const ushort Version = 1;

    /// <summary>The oldest version this code reads.</summary>
    public const ushort MinimumReadVersion = 1;

    /// <summary>The newest version this code reads.</summary>
    public const ushort MaximumReadVersion = 1;

    /// <summary>"KVRD".</summary>
    public static ReadOnlySpan<byte> Magic => [0x4B, 0x56, 0x52, 0x44];

    /// <summary>Writes the envelope header for <paramref name="record"/> and the record after it; <paramref name="destination"/> is exactly header + record long.</summary>
    public static void Write(ReadOnlySpan<byte> record, Span<byte> destination)
    {
        if (destination.Length != HeaderSize + record.Length)
            throw new ArgumentException("the destination must be exactly header + record bytes long", nameof(destination));
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], (ulong)record.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], XxHash3.HashToUInt64(record));
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], 0);
        record.CopyTo(destination[HeaderSize..]);
    }

    /// <summary>
    /// Checks the envelope of a value read from Redis and returns the record inside it; null (with the reason in
    /// <paramref name="problem"/>) when the envelope is malformed, the length disagrees, or the checksum fails.
    /// Nothing is allocated: every length is checked against the value's actual length first.
    /// </summary>
    public static bool TryOpen(ReadOnlySpan<byte> value, long maxRecordBytes, out Range record, out string? problem)
    {
        record = default;
        if (value.Length < HeaderSize)
        {
            problem = $"the value is {value.Length} bytes, shorter than the {HeaderSize}-byte envelope";
            return false;
        }
        if (!value[..4].SequenceEqual(Magic))
        {
            problem = "the value does not start with the envelope magic";
            return false;
        }
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(value[4..]);
        if (version < MinimumReadVersion || version > MaximumReadVersion)
        {
            problem = $"envelope version {version} is not readable (this code reads {MinimumReadVersion}–{MaximumReadVersion})";
            return false;
        }
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(value[6..]);
        if (flags != 0 || BinaryPrimitives.ReadUInt64LittleEndian(value[24..]) != 0)
        {
            problem = "reserved envelope bits are set";
            return false;
        }
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(value[8..]);
        if (length != (ulong)(value.Length - HeaderSize))
        {
            problem = $"the envelope declares {length} record bytes but {value.Length - HeaderSize} follow it";
            return false;
        }
        if ((long)length > maxRecordBytes)
        {
            problem = $"the record is {length} bytes, over the {maxRecordBytes}-byte limit";
            return false;
        }
        ReadOnlySpan<byte> bytes = value[HeaderSize..];
        if (XxHash3.HashToUInt64(bytes) != BinaryPrimitives.ReadUInt64LittleEndian(value[16..]))
        {
            problem = "the record does not match the envelope checksum";
            return false;
        }
        record = HeaderSize..value.Length;
        problem = null;
        return true;
    }
}
