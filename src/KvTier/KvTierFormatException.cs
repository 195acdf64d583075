namespace KvTier;

/// <summary>
/// Bad bytes in something KvTier reads: a truncated, foreign, corrupt or out-of-limits file or frame.
/// Carries where the problem was found so that an operator can locate it. Reading code throws this
/// (or a subclass) instead of index or overflow exceptions, and never returns a partial result.
/// </summary>
public class KvTierFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, in the reader's terms.</param>
    /// <param name="source">The file path or other name of what was read; null when unknown.</param>
    /// <param name="offset">Byte offset at which the problem was detected; -1 when it applies to the whole input.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public KvTierFormatException(string message, string? source = null, long offset = -1, Exception? innerException = null)
        : base(Describe(message, source, offset), innerException)
    {
        SourceName = source;
        Offset = offset;
    }

    /// <summary>The file path or other name of what was read; null when unknown.</summary>
    public string? SourceName { get; }

    /// <summary>Byte offset at which the problem was detected; -1 when it applies to the whole input.</summary>
    public long Offset { get; }

    private static string Describe(string message, string? source, long offset) => (source, offset) switch
    {
        (null, < 0) => message,
        (null, _) => $"{message} (at byte {offset})",
        (_, < 0) => $"{source}: {message}",
        _ => $"{source}: {message} (at byte {offset})",
    };
}
