using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace KvTier.Keys;

/// <summary>
/// The byte-exact hash inputs of format-spec/key-derivation.md. Every input starts with a 16-byte
/// domain tag so that a digest of one kind can never equal a digest of another.
/// </summary>
internal static class KeyDerivation
{
    /// <summary>Length of every domain tag: ASCII, zero-padded (spec §1).</summary>
    public const int TagSize = 16;

    public const string FingerprintTag = "kvtier.fp.v1";
    public const string RootTag = "kvtier.root.v1";
    public const string PrefixTag = "kvtier.prefix.v1";
    public const string SegmentTag = "kvtier.seg.v1";

    /// <summary>Longest model id, in UTF-8 bytes (spec §2).</summary>
    public const int MaxModelIdBytes = 255;

    /// <summary>Longest namespace, in UTF-8 bytes (spec §3).</summary>
    public const int MaxNamespaceBytes = 255;

    /// <summary>Most tokens in one chunk (spec §4).</summary>
    public const int MaxChunkTokens = 1 << 20;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static void WriteTag(Span<byte> destination, string tag)
    {
        Span<byte> field = destination[..TagSize];
        field.Clear();
        Encoding.ASCII.GetBytes(tag, field);
    }

    /// <summary>UTF-8 bytes of a model id or namespace, rejecting lone surrogates and over-long values.</summary>
    public static byte[] EncodeName(string value, int maxBytes, string paramName, bool allowEmpty)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        byte[] bytes;
        try
        {
            bytes = StrictUtf8.GetBytes(value);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException("The value is not valid Unicode (it contains a lone surrogate).", paramName, e);
        }

        if (bytes.Length > maxBytes)
            throw new ArgumentException($"The value is {bytes.Length} bytes in UTF-8; at most {maxBytes} are allowed.", paramName);
        if (!allowEmpty && bytes.Length == 0)
            throw new ArgumentException("The value must not be empty.", paramName);
        return bytes;
    }

    /// <summary>SHA-256 of <c>tag ‖ head ‖ u32 count ‖ tokens as u32</c>, the shape of prefix and segment keys (spec §4, §5).</summary>
    public static ChunkKey HashTokens(string tag, ReadOnlySpan<byte> head, ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty)
            throw new ArgumentException("A chunk has at least one token.", nameof(tokens));
        if (tokens.Length > MaxChunkTokens)
            throw new ArgumentException($"A chunk has at most {MaxChunkTokens} tokens; got {tokens.Length}.", nameof(tokens));

        int prologue = TagSize + head.Length + sizeof(uint);
        int length = prologue + tokens.Length * sizeof(uint);
        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Span<byte> input = rented.AsSpan(0, length);
            WriteTag(input, tag);
            head.CopyTo(input[TagSize..]);
            BinaryPrimitives.WriteUInt32LittleEndian(input[(TagSize + head.Length)..], (uint)tokens.Length);
            WriteTokens(input[prologue..], tokens);
            Span<byte> digest = stackalloc byte[ChunkKey.Size];
            SHA256.HashData(input, digest);
            return ChunkKey.FromBytes(digest);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void WriteTokens(Span<byte> destination, ReadOnlySpan<int> tokens)
    {
        // Token ids are written as u32 little-endian; a negative id has no encoding.
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] < 0)
                ThrowNegativeToken(i, tokens[i]);
        }

        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(tokens).CopyTo(destination);
            return;
        }

        for (int i = 0; i < tokens.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(4 * i)..], (uint)tokens[i]);
    }

    private static void ThrowNegativeToken(int index, int token) =>
        throw new ArgumentOutOfRangeException("tokens", token, $"Token ids are non-negative; the token at index {index} is {token}.");
}
