namespace KvTier.Format;

/// <summary>Which kind of key names a record (format-spec/key-derivation.md §4, §5). The values are the <c>key_kind</c> header field.</summary>
public enum ChunkKeyKind : byte
{
    /// <summary>A prefix key: the chunk's KV given everything before it.</summary>
    Prefix = 1,

    /// <summary>A position-independent segment key, for blending.</summary>
    Segment = 2,
}
