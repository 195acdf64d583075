using System.Security.Cryptography;
using System.Text;
using KvTier.Remote.Protocol;

namespace KvTier.Remote;

/// <summary>
/// The shared secret that clients prove they know (format-spec/protocol.md §5): read from a token file, and the
/// HMAC-SHA256 proofs of the challenge-response handshake. The secret itself never travels.
/// </summary>
public static class SharedSecret
{
    /// <summary>
    /// Reads a token file: its bytes with leading and trailing ASCII whitespace removed (so that <c>echo TOKEN &gt; F</c> works);
    /// at least <see cref="ProtocolLimits.MinSecretBytes"/> and at most <see cref="ProtocolLimits.MaxSecretBytes"/> bytes.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The token is too short or the file too long.</exception>
    public static byte[] ReadTokenFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"token file {path} does not exist.", path);
        if (info.Length > ProtocolLimits.MaxSecretBytes)
            throw new ArgumentException($"token file {path} is {info.Length} bytes; the limit is {ProtocolLimits.MaxSecretBytes}.", nameof(path));
        return FromBytes(File.ReadAllBytes(path), path);
    }

    /// <summary>A secret from a string (UTF-8, trimmed), for tests and embedding.</summary>
    /// <exception cref="ArgumentException">The token is shorter than <see cref="ProtocolLimits.MinSecretBytes"/> bytes.</exception>
    public static byte[] FromString(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return FromBytes(Encoding.UTF8.GetBytes(token), "the token");
    }

    private static byte[] FromBytes(byte[] bytes, string source)
    {
        ReadOnlySpan<byte> trimmed = bytes.AsSpan().Trim(" \t\r\n"u8);
        if (trimmed.Length < ProtocolLimits.MinSecretBytes)
            throw new ArgumentException($"{source} holds {trimmed.Length} bytes of token; at least {ProtocolLimits.MinSecretBytes} are required (for example `openssl rand -hex 32`).");
        if (trimmed.Length > ProtocolLimits.MaxSecretBytes)
            throw new ArgumentException($"{source} holds more than {ProtocolLimits.MaxSecretBytes} bytes of token.");
        return trimmed.ToArray();
    }

    // §5.2: client proof = HMAC-SHA256(secret, "kvtier-client-v1" ‖ version u16 ‖ server nonce ‖ client nonce).
    internal static byte[] ClientProof(ReadOnlySpan<byte> secret, ushort version, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce) =>
        Proof(secret, "kvtier-client-v1"u8, version, serverNonce, clientNonce);

    // §5.2: server proof = HMAC-SHA256(secret, "kvtier-server-v1" ‖ version u16 ‖ client nonce ‖ server nonce).
    internal static byte[] ServerProof(ReadOnlySpan<byte> secret, ushort version, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce) =>
        Proof(secret, "kvtier-server-v1"u8, version, clientNonce, serverNonce);

    // §12.2: lane proof = HMAC-SHA256(secret, "kvtier-lane-v2" ‖ token ‖ lane u16 ‖ sequence u32).
    internal static byte[] LaneProof(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> token, int lane, uint sequence) =>
        LaneProof(secret, "kvtier-lane-v2"u8, token, lane, sequence);

    // §12.2: lane-ready proof = HMAC-SHA256(secret, "kvtier-lane-ready-v2" ‖ token ‖ lane u16 ‖ sequence u32).
    internal static byte[] LaneReadyProof(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> token, int lane, uint sequence) =>
        LaneProof(secret, "kvtier-lane-ready-v2"u8, token, lane, sequence);

    private static byte[] LaneProof(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, ReadOnlySpan<byte> token, int lane, uint sequence)
    {
        Span<byte> message = stackalloc byte[label.Length + token.Length + 2 + 4];
        label.CopyTo(message);
        token.CopyTo(message[label.Length..]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(message[(label.Length + token.Length)..], (ushort)lane);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(message[(label.Length + token.Length + 2)..], sequence);
        return HMACSHA256.HashData(secret, message);
    }

    private static byte[] Proof(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, ushort version, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        Span<byte> message = stackalloc byte[label.Length + 2 + first.Length + second.Length];
        label.CopyTo(message);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(message[label.Length..], version);
        first.CopyTo(message[(label.Length + 2)..]);
        second.CopyTo(message[(label.Length + 2 + first.Length)..]);
        return HMACSHA256.HashData(secret, message);
    }
}
