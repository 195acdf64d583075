namespace KvTier.Storage.Segments;

/// <summary>A segment's life cycle (format-spec/metadata-schema.md §3).</summary>
public enum SegmentState : byte
{
    /// <summary>Open for appends; the tail past its committed end is checked at open.</summary>
    Active = 1,

    /// <summary>Full; read-only; a compaction candidate.</summary>
    Sealed = 2,

    /// <summary>Compacted away: nothing in the index points into it; its file is deleted once no lease holds it.</summary>
    Retired = 3,
}
