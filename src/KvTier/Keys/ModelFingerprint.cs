using System.Buffers.Binary;
using System.Security.Cryptography;
using KvTier.Layout;

namespace KvTier.Keys;

/// <summary>
/// SHA-256 of a model id and its <see cref="KvLayout"/> (format-spec/key-derivation.md §2). Part of every
/// chunk key, so caches never cross models or layouts: a different element type, RoPE setting or head
/// shape gives unrelated keys.
/// </summary>
/// <remarks>Immutable; safe to share between threads.</remarks>
public sealed class ModelFingerprint : IEquatable<ModelFingerprint>
{
    /// <summary>Size of a fingerprint in bytes.</summary>
    public const int Size = 32;

    /// <summary>Longest model id, in UTF-8 bytes.</summary>
    public const int MaxModelIdBytes = KeyDerivation.MaxModelIdBytes;

    private readonly byte[] _digest;

    private ModelFingerprint(string modelId, KvLayout layout, byte[] digest)
    {
        ModelId = modelId;
        Layout = layout;
        _digest = digest;
    }

    /// <summary>The model id the fingerprint was computed from (for example "stories260K" or a Hugging Face repository name and revision).</summary>
    public string ModelId { get; }

    /// <summary>The layout the fingerprint was computed from.</summary>
    public KvLayout Layout { get; }

    /// <summary>The 32 digest bytes.</summary>
    public ReadOnlySpan<byte> Digest => _digest;

    /// <summary>Computes the fingerprint of a model id and layout.</summary>
    /// <param name="modelId">Non-empty, at most 255 bytes in UTF-8, compared exactly (no case folding or normalization).</param>
    /// <param name="layout">The model's KV layout.</param>
    /// <exception cref="ArgumentException"><paramref name="modelId"/> is empty, too long or not valid Unicode.</exception>
    public static ModelFingerprint Compute(string modelId, KvLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        byte[] id = KeyDerivation.EncodeName(modelId, KeyDerivation.MaxModelIdBytes, nameof(modelId), allowEmpty: false);

        // Spec §2, table "fingerprint input".
        Span<byte> input = stackalloc byte[KeyDerivation.TagSize + 2 + KeyDerivation.MaxModelIdBytes + 27];
        KeyDerivation.WriteTag(input, KeyDerivation.FingerprintTag);
        int p = KeyDerivation.TagSize;
        BinaryPrimitives.WriteUInt16LittleEndian(input[p..], (ushort)id.Length);
        p += 2;
        id.CopyTo(input[p..]);
        p += id.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(input[p..], (uint)layout.Layers);
        BinaryPrimitives.WriteUInt32LittleEndian(input[(p + 4)..], (uint)layout.KvHeads);
        BinaryPrimitives.WriteUInt32LittleEndian(input[(p + 8)..], (uint)layout.HeadDim);
        input[p + 12] = (byte)layout.ElementType;
        input[p + 13] = (byte)layout.Rope.Pairing;
        BinaryPrimitives.WriteUInt32LittleEndian(input[(p + 14)..], (uint)layout.Rope.RotaryDims);
        // Theta is never negative zero or NaN (RopeParameters validates), so its bits are canonical.
        BinaryPrimitives.WriteDoubleLittleEndian(input[(p + 18)..], layout.Rope.Theta);
        input[p + 26] = layout.KeysStoredAfterRope ? (byte)1 : (byte)0;
        p += 27;

        var digest = new byte[Size];
        SHA256.HashData(input[..p], digest);
        return new ModelFingerprint(modelId, layout, digest);
    }

    /// <summary>The digest as 64 lowercase hexadecimal digits.</summary>
    public override string ToString() => Convert.ToHexStringLower(_digest);

    /// <summary>Fingerprints are equal when their digests are.</summary>
    public bool Equals(ModelFingerprint? other) => other is not null && _digest.AsSpan().SequenceEqual(other._digest);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ModelFingerprint);

    /// <inheritdoc/>
    public override int GetHashCode() => BinaryPrimitives.ReadInt32LittleEndian(_digest);
}
