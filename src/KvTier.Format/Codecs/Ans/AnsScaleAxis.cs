namespace KvTier.Format.Codecs.Ans;

/// <summary>
/// The <c>scale_axis</c> field of an <c>ans</c> payload (format-spec/kvtier-format.md §9.1): which elements share a scale.
/// Axes 2 and 3 are both "per token with group width W" (W = head_dim or kv_dim), and every decode path treats them as one.
/// </summary>
internal enum AnsScaleAxis : byte
{
    /// <summary>1: one scale per channel, S = kv_dim (keys, after KIVI).</summary>
    PerChannel = 1,

    /// <summary>2: one scale per token and head, S = token_count·kv_heads (W = head_dim).</summary>
    PerTokenHead = 2,

    /// <summary>3: one scale per token for the whole row, S = token_count (W = kv_dim).</summary>
    PerToken = 3,
}
