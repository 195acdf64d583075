namespace KvTier.Blend;

/// <summary>Where the KV of one <see cref="BlendEntry"/> comes from.</summary>
public enum BlendEntryKind
{
    /// <summary>
    /// A stored chunk under a position-independent segment key (format-spec/key-derivation.md §5), computed at other
    /// positions and without this prompt's preceding context: its K is re-rotated to the target positions and its
    /// tokens are candidates for selective recomputation. Missing in the store, it is computed in full.
    /// </summary>
    Segment,

    /// <summary>
    /// A stored chunk under a prefix key: computed with exactly this prompt's preceding tokens at exactly these positions,
    /// so its KV is what a full prefill would produce. It is neither moved nor recomputed.
    /// </summary>
    Prefix,

    /// <summary>Tokens with no stored KV (the question after the documents, say): the engine computes them in full.</summary>
    Compute,
}
