using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace KvTier.Keys;

/// <summary>
/// A 32-byte key naming a stored chunk: a prefix key (the chunk's KV given everything before it) or a
/// segment key (the chunk's tokens alone, for blending). Derivation: format-spec/key-derivation.md.
/// Compared, hashed and sorted as its 32 bytes in order, so that sorted keys match a byte-wise index.
/// </summary>
public readonly struct ChunkKey : IEquatable<ChunkKey>, IComparable<ChunkKey>
{
    /// <summary>Size of a key in bytes.</summary>
    public const int Size = 32;

    // The 32 bytes as four big-endian words: word order and numeric order equal byte order.
    private readonly ulong _w0, _w1, _w2, _w3;

    private ChunkKey(ulong w0, ulong w1, ulong w2, ulong w3) => (_w0, _w1, _w2, _w3) = (w0, w1, w2, w3);

    /// <summary>Creates a key from exactly <see cref="Size"/> bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="bytes"/> is not 32 bytes long.</exception>
    public static ChunkKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            throw new ArgumentException($"A chunk key is {Size} bytes; got {bytes.Length}.", nameof(bytes));
        return new ChunkKey(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));
    }

    /// <summary>Writes the key's 32 bytes to <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 32 bytes.</exception>
    public void CopyTo(Span<byte> destination)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"Destination must hold {Size} bytes.", nameof(destination));
        BinaryPrimitives.WriteUInt64BigEndian(destination, _w0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _w1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _w2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _w3);
    }

    /// <summary>Returns the key's 32 bytes as a new array.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        CopyTo(bytes);
        return bytes;
    }

    /// <summary>Parses 64 hexadecimal digits (either case).</summary>
    /// <exception cref="FormatException"><paramref name="hex"/> is not 64 hexadecimal digits.</exception>
    public static ChunkKey Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        return TryParse(hex, out var key)
            ? key
            : throw new FormatException($"A chunk key is {2 * Size} hexadecimal digits; got \"{(hex.Length > 80 ? hex[..80] + "…" : hex)}\".");
    }

    /// <summary>Parses 64 hexadecimal digits (either case); false for anything else.</summary>
    public static bool TryParse([NotNullWhen(true)] string? hex, out ChunkKey key)
    {
        key = default;
        if (hex is null || hex.Length != 2 * Size)
            return false;
        Span<byte> bytes = stackalloc byte[Size];
        if (Convert.FromHexString(hex, bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != Size)
            return false;
        key = FromBytes(bytes);
        return true;
    }

    /// <summary>The key as 64 lowercase hexadecimal digits.</summary>
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Size];
        CopyTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <inheritdoc/>
    public bool Equals(ChunkKey other) => _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ChunkKey other && Equals(other);

    /// <inheritdoc/>
    // The key is a SHA-256 output: any 32 bits of it are already uniformly distributed.
    public override int GetHashCode() => (int)_w0;

    /// <summary>Orders keys by their bytes, lexicographically.</summary>
    public int CompareTo(ChunkKey other)
    {
        int c = _w0.CompareTo(other._w0);
        if (c == 0) c = _w1.CompareTo(other._w1);
        if (c == 0) c = _w2.CompareTo(other._w2);
        if (c == 0) c = _w3.CompareTo(other._w3);
        return c;
    }

    /// <summary>Equality of the 32 bytes.</summary>
    public static bool operator ==(ChunkKey left, ChunkKey right) => left.Equals(right);

    /// <summary>Inequality of the 32 bytes.</summary>
    public static bool operator !=(ChunkKey left, ChunkKey right) => !left.Equals(right);

    /// <summary>Byte-wise ordering.</summary>
    public static bool operator <(ChunkKey left, ChunkKey right) => left.CompareTo(right) < 0;

    /// <summary>Byte-wise ordering.</summary>
    public static bool operator >(ChunkKey left, ChunkKey right) => left.CompareTo(right) > 0;

    /// <summary>Byte-wise ordering.</summary>
    public static bool operator <=(ChunkKey left, ChunkKey right) => left.CompareTo(right) <= 0;

    /// <summary>Byte-wise ordering.</summary>
    public static bool operator >=(ChunkKey left, ChunkKey right) => left.CompareTo(right) >= 0;
}
