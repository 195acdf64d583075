namespace KvTier.Format;

/// <summary>One entry of a record's section table (format-spec/kvtier-format.md §2.2).</summary>
/// <param name="Layer">The layer whose K or V the section holds.</param>
/// <param name="Kind">Keys or values.</param>
/// <param name="Offset">Where the payload starts, from the record start; a multiple of 64.</param>
/// <param name="Length">Payload bytes.</param>
/// <param name="Checksum">XXH3-64 of the payload.</param>
public readonly record struct SectionEntry(int Layer, SectionKind Kind, long Offset, long Length, ulong Checksum)
{
    /// <summary>Index in the section table: 2 × layer + kind.</summary>
    public int Index => 2 * Layer + (int)Kind;
}
