namespace KvTier.Blend;

/// <summary>Where a position's KV in a <see cref="BlendedKv"/> came from.</summary>
public enum TokenOrigin : byte
{
    /// <summary>The engine computes it: a compute entry, or a stored entry the store did not have. Its rows are zero until merged.</summary>
    Computed,

    /// <summary>Reused from a stored segment, K re-rotated to this position: a candidate for selective recomputation.</summary>
    Reused,

    /// <summary>Reused from a prefix-keyed chunk at its own position: what a full prefill would compute; never recomputed.</summary>
    Exact,
}
