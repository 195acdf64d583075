namespace KvTier.Format;

/// <summary>Which half of a layer's KV a section holds. The values are the <c>kind</c> field of a section table entry.</summary>
public enum SectionKind : byte
{
    /// <summary>Keys.</summary>
    Keys = 0,

    /// <summary>Values.</summary>
    Values = 1,
}
