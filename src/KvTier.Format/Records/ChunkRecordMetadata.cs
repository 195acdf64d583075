using KvTier.Keys;

namespace KvTier.Format;

/// <summary>What a record says about its chunk besides the KV itself: model, key and positions.</summary>
/// <param name="Fingerprint">Model id and layout.</param>
/// <param name="Key">The chunk's key.</param>
/// <param name="KeyKind">Whether <paramref name="Key"/> is a prefix or a segment key.</param>
/// <param name="FirstPosition">Position of the chunk's first token when its KV was computed (0 for the first chunk of a prompt).</param>
public sealed record ChunkRecordMetadata(ModelFingerprint Fingerprint, ChunkKey Key, ChunkKeyKind KeyKind = ChunkKeyKind.Prefix, int FirstPosition = 0);
