namespace KvTier.Reference;

/// <summary>
/// A model checkpoint or tokenizer file is truncated, foreign, corrupt or outside the reader's limits.
/// Carries the file name and the byte offset at which the problem was detected.
/// </summary>
public sealed class InvalidModelFileException : KvTierFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, in the file format's terms.</param>
    /// <param name="source">The file path or other name of what was read; null when unknown.</param>
    /// <param name="offset">Byte offset at which the problem was detected; -1 when it applies to the whole file.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public InvalidModelFileException(string message, string? source = null, long offset = -1, Exception? innerException = null)
        : base(message, source, offset, innerException)
    {
    }
}
