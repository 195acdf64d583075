namespace KvTier.Blend;

/// <summary>Why a blend was refused (<see cref="BlendException.Kind"/>).</summary>
public enum BlendErrorKind
{
    /// <summary>The plan leaves positions uncovered: entries must tile <c>[0, total)</c> with no holes.</summary>
    Gap,

    /// <summary>Two entries of the plan claim the same position.</summary>
    Overlap,

    /// <summary>A position is negative, or an entry ends past <see cref="BlendOptions.ContextLength"/>.</summary>
    OutOfRange,

    /// <summary>A stored chunk was computed for another KV layout (layers, KV width, element type, RoPE, key convention) than the blender's.</summary>
    LayoutMismatch,

    /// <summary>A stored chunk holds another number of tokens than its plan entry says.</summary>
    TokenCountMismatch,

    /// <summary>
    /// A <see cref="BlendEntryKind.Prefix"/> entry (exact reuse) was stored at other positions than its target: exact KV
    /// cannot move, because its keys would need re-rotation and its context would differ.
    /// </summary>
    PrefixMoved,

    /// <summary>KV handed in by the engine (fresh rows to compare or merge) has the wrong shape or names tokens outside the blend.</summary>
    InvalidEngineKv,

    /// <summary>
    /// A stored chunk failed its checksum after earlier layers of it had been handed out: the store has dropped the
    /// record, so the same plan run again computes those positions instead. (A chunk found corrupt before layer 0 is
    /// ready is simply treated as missing.)
    /// </summary>
    SourceCorrupt,

    /// <summary>The check layers or recompute share asked of <see cref="RecomputeSelector"/> are not usable with this blend.</summary>
    InvalidRecompute,
}
