namespace KvTier.Format.Codecs.Ans;

/// <summary>The <c>scale_type</c> field of an <c>ans</c> payload (format-spec/kvtier-format.md §9.1): how each scale is stored.</summary>
internal enum AnsScaleType : byte
{
    /// <summary>1: IEEE binary32, 4 bytes.</summary>
    Float32 = 1,

    /// <summary>2: IEEE binary16, 2 bytes, widened exactly to binary32 for dequantization.</summary>
    Float16 = 2,
}
