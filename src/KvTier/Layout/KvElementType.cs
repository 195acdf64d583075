namespace KvTier.Layout;

/// <summary>
/// The element type in which an inference engine holds its attention keys and values.
/// The numeric values are part of the model fingerprint (format-spec/key-derivation.md §2) and never change.
/// </summary>
public enum KvElementType : byte
{
    /// <summary>IEEE-754 binary32, 4 bytes per element.</summary>
    Float32 = 1,

    /// <summary>IEEE-754 binary16, 2 bytes per element.</summary>
    Float16 = 2,

    /// <summary>bfloat16 (the top 16 bits of a binary32), 2 bytes per element.</summary>
    BFloat16 = 3,
}
