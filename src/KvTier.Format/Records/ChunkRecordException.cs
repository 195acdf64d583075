namespace KvTier.Format;

/// <summary>
/// A chunk record that cannot be read: carries the <see cref="Kind"/> of problem, the source and the
/// byte offset. Readers throw it instead of returning any part of the record.
/// </summary>
public sealed class ChunkRecordException : KvTierFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">The kind of problem (format-spec/kvtier-format.md §5).</param>
    /// <param name="message">What is wrong.</param>
    /// <param name="source">The file or other source; null when unknown.</param>
    /// <param name="offset">Byte offset from the start of the record; -1 when it concerns the whole record.</param>
    public ChunkRecordException(ChunkRecordErrorKind kind, string message, string? source = null, long offset = -1)
        : base($"{kind}: {message}", source, offset)
    {
        Kind = kind;
    }

    /// <summary>The kind of problem.</summary>
    public ChunkRecordErrorKind Kind { get; }
}
